// Helpers for account scenarios: register users, read the outbox, pull tokens out of mailed links, and the two
// checks every HTTP scenario makes of an answer (expectOk, expectError).
import { expect } from "bun:test";
import { desc, eq } from "drizzle-orm";
import { mailOutbox } from "../../src/db/schema.ts";
import type { TestEnv } from "./deps.ts";

let n = 0;
export function newUserInput(overrides: Partial<{ email: string; username: string; password: string; display_name: string }> = {}) {
  n++;
  return {
    email: `producer${n}-${process.pid}@example.com`,
    username: `producer${n}_${process.pid % 1000}`,
    password: "correct horse battery staple",
    ...overrides,
  };
}

export async function json(res: Response) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${res.status}): ${text.slice(0, 200)}`);
  }
}

/** The JSON body of a 200 answer, which must not be an error. */
export async function expectOk(res: Response) {
  const body = await json(res);
  expect({ status: res.status, body }).toMatchObject({ status: 200 });
  expect("error" in body).toBe(false);
  return body;
}

/** The JSON body of a refusal: this status and error code, in the contract's shape ({error, message}). */
export async function expectError(res: Response, status: number, error: string) {
  const body = await json(res);
  expect({ status: res.status, error: body.error }).toEqual({ status, error });
  expect(typeof body.message).toBe("string");
  return body;
}

export async function registerUser(env: TestEnv, overrides: Parameters<typeof newUserInput>[0] = {}) {
  const input = newUserInput(overrides);
  const res = await env.request("/api/v1/auth/register", { method: "POST", json: input });
  const body = await json(res);
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(body)}`);
  return { input, auth: body.auth as { token: string; refresh_token: string; expires_at: string; user: Record<string, any> } };
}

/** Messages sent to an address, newest first. */
export async function mailTo(env: TestEnv, to: string) {
  await env.deps.mailer.idle();
  return env.deps.database.db.select().from(mailOutbox).where(eq(mailOutbox.to, to.toLowerCase())).orderBy(desc(mailOutbox.createdAt), desc(mailOutbox.id));
}

/** The token of the newest mailed link to `path` (e.g. "/reset-password"), checking the link's origin. */
export async function linkToken(env: TestEnv, to: string, path: string): Promise<string> {
  const token = await newestLinkToken(env, to, path);
  if (token === undefined) throw new Error(`no mail to ${to} with a ${path} link`);
  return token;
}

async function newestLinkToken(env: TestEnv, to: string, path: string): Promise<string | undefined> {
  for (const m of await mailTo(env, to)) {
    const match = new RegExp(`(https?://[^\\s]+)${path}\\?token=([A-Za-z0-9_%-]+)`).exec(m.text);
    if (match) {
      if (match[1] !== env.deps.config.PUBLIC_URL) throw new Error(`link origin ${match[1]} is not PUBLIC_URL`);
      return decodeURIComponent(match[2]!);
    }
  }
  return undefined;
}

/**
 * The token of a link mailed in the background (the reset routes answer before the mail is written): polls the
 * outbox until the newest link to `path` is there and is not `previous` (an earlier mail's), for up to timeoutMs.
 */
export async function awaitLinkToken(env: TestEnv, to: string, path: string, previous?: string, timeoutMs = 10_000): Promise<string> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const token = await newestLinkToken(env, to, path);
    if (token !== undefined && token !== previous) return token;
    if (performance.now() > end) throw new Error(`no new mail to ${to} with a ${path} link within ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}

export type Producer = { id: string; token: string; username: string; email: string };

/** Registers a producer through the API and returns what scenario tests act with. */
export async function registerProducer(env: TestEnv, overrides: Parameters<typeof newUserInput>[0] = {}): Promise<Producer> {
  const { auth, input } = await registerUser(env, overrides);
  return { id: auth.user.id as string, token: auth.token, username: auth.user.username as string, email: input.email };
}

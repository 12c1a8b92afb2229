// Where a finished Google/Discord sign-in waits to be collected, in the sign_in_requests table:
// - kind "oauth_poll": the plugin's polled sign-in. Its row id is a hash of the plugin's session_id; the row is
//   created when the browser opens the start URL (so the id is single use), approved when the person confirms
//   in the browser, and consumed by the one poll that hands out the tokens. Expires 5 minutes after the start.
// - kind "oauth_web": the web flow's one-time result code (its row id is a hash of the code), kept 2 minutes.
// - kind "oauth_link": a spent link ticket (single use).
// Tokens are minted when the result is handed out, never stored.
import { and, eq, gt, lt } from "drizzle-orm";
import { signInRequests, users } from "../../db/schema.ts";
import type { Deps } from "../../deps.ts";
import { randomToken, sha256 } from "../../lib/crypto.ts";
import { authPayload, type AuthPayload } from "../service.ts";
import type { ClientInfo } from "../sessions.ts";
import { errorFields } from "../../log.ts";
import { isUniqueViolation } from "../../db/errors.ts";

export const PLUGIN_SIGN_IN_TTL_MS = 5 * 60_000;
export const WEB_RESULT_TTL_MS = 2 * 60_000;
/** The plugin's session_id: 32 hex characters. */
export const PLUGIN_SESSION_ID = /^[0-9a-f]{32}$/;

const KIND = { poll: "oauth_poll", web: "oauth_web", link: "oauth_link" } as const;
// Domain-separated hashes, so a value of one kind never names a row of another (device codes share the table).
const pollRowId = (sessionId: string) => sha256(`oauth-poll:${sessionId}`);
const webRowId = (code: string) => sha256(`oauth-web:${code}`);
const linkRowId = (jti: string) => sha256(`oauth-link:${jti}`);

/** Forgets finished OAuth rows a day after they expired (bounded table; runs now and then from the start route). */
async function prune(deps: Deps) {
  const cutoff = deps.clock.now() - 86_400_000;
  for (const kind of Object.values(KIND)) {
    await deps.database.db.delete(signInRequests).where(and(eq(signInRequests.kind, kind), lt(signInRequests.expiresAt, cutoff)));
  }
}

/** Registers the plugin's session id when the browser starts the flow. False when the id was ever used before. */
export async function startPluginSignIn(deps: Deps, sessionId: string): Promise<boolean> {
  const now = deps.clock.now();
  if (Math.random() < 0.05) await prune(deps).catch((err) => deps.log.warn("oauth prune failed", errorFields(err)));
  try {
    // Single use is the primary key's job, not a read-then-write.
    await deps.database.db
      .insert(signInRequests)
      .values({ id: pollRowId(sessionId), kind: KIND.poll, status: "pending", createdAt: now, expiresAt: now + PLUGIN_SIGN_IN_TTL_MS });
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

/** "pending" while the plugin sign-in can still be completed in the browser. */
export async function pluginSignInState(deps: Deps, sessionId: string): Promise<"pending" | "expired" | "finished"> {
  const [row] = await deps.database.db
    .select()
    .from(signInRequests)
    .where(and(eq(signInRequests.id, pollRowId(sessionId)), eq(signInRequests.kind, KIND.poll)))
    .limit(1);
  if (row?.status !== "pending") return "finished";
  return row.expiresAt > deps.clock.now() ? "pending" : "expired";
}

/** The person confirmed in the browser: the next poll gets tokens for `userId`. False when no longer pending. */
export async function approvePluginSignIn(deps: Deps, sessionId: string, userId: string): Promise<boolean> {
  const rows = await deps.database.db
    .update(signInRequests)
    .set({ status: "approved", userId })
    .where(
      and(
        eq(signInRequests.id, pollRowId(sessionId)),
        eq(signInRequests.kind, KIND.poll),
        eq(signInRequests.status, "pending"),
        gt(signInRequests.expiresAt, deps.clock.now()),
      ),
    )
    .returning({ id: signInRequests.id });
  return rows.length > 0;
}

/** The sign-in failed or was cancelled in the browser: the plugin's poll answers {status:"error", message}. */
export async function failPluginSignIn(deps: Deps, sessionId: string, status: "error" | "denied", message: string) {
  await deps.database.db
    .update(signInRequests)
    .set({ status, message: message.slice(0, 300) })
    .where(and(eq(signInRequests.id, pollRowId(sessionId)), eq(signInRequests.kind, KIND.poll), eq(signInRequests.status, "pending")));
}

export type PollAnswer =
  | { status: "pending" }
  | { status: "complete"; auth: AuthPayload }
  | { status: "error"; message: string }
  | { status: "expired" }
  | { status: "not_found" };

/** One poll of the plugin. The approved result is handed out once: one atomic UPDATE moves it to "consumed". */
export async function pollPluginSignIn(deps: Deps, sessionId: string, client: ClientInfo): Promise<PollAnswer> {
  const now = deps.clock.now();
  const id = pollRowId(sessionId);
  const [row] = await deps.database.db
    .select()
    .from(signInRequests)
    .where(and(eq(signInRequests.id, id), eq(signInRequests.kind, KIND.poll)))
    .limit(1);
  // No row yet: the plugin opens the browser and polls at once, so its first polls usually arrive before the
  // browser reaches the start URL. That is "pending", as the plugin's original server answered.
  if (!row) return { status: "pending" };
  if (row.status === "consumed") return { status: "not_found" }; // handed out already: single use
  if (row.expiresAt <= now) return { status: "expired" };
  if (row.status === "error" || row.status === "denied") return { status: "error", message: row.message ?? "The sign-in did not complete" };
  if (row.status !== "approved") return { status: "pending" };
  const auth = await deps.database.tx(async (tx) => {
    const [taken] = await tx
      .update(signInRequests)
      .set({ status: "consumed", lastPollAt: now })
      .where(and(eq(signInRequests.id, id), eq(signInRequests.status, "approved"), gt(signInRequests.expiresAt, now)))
      .returning();
    if (!taken?.userId) return null;
    const [user] = await tx.select().from(users).where(eq(users.id, taken.userId)).limit(1);
    return user ? authPayload(deps, user, client, tx) : null;
  });
  return auth ? { status: "complete", auth } : { status: "not_found" };
}

/** The web flow's result: a one-time code for `userId`, redeemable once within WEB_RESULT_TTL_MS. */
export async function createWebResult(deps: Deps, userId: string): Promise<string> {
  const code = randomToken();
  const now = deps.clock.now();
  await deps.database.db
    .insert(signInRequests)
    .values({ id: webRowId(code), kind: KIND.web, status: "approved", userId, createdAt: now, expiresAt: now + WEB_RESULT_TTL_MS });
  return code;
}

/** Redeems a web result code: a fresh session for its user, or null (unknown, used or expired). */
export async function redeemWebResult(deps: Deps, code: string, client: ClientInfo): Promise<AuthPayload | null> {
  const now = deps.clock.now();
  return deps.database.tx(async (tx) => {
    const [taken] = await tx
      .update(signInRequests)
      .set({ status: "consumed", lastPollAt: now })
      .where(
        and(eq(signInRequests.id, webRowId(code)), eq(signInRequests.kind, KIND.web), eq(signInRequests.status, "approved"), gt(signInRequests.expiresAt, now)),
      )
      .returning();
    if (!taken?.userId) return null;
    const [user] = await tx.select().from(users).where(eq(users.id, taken.userId)).limit(1);
    return user ? authPayload(deps, user, client, tx) : null;
  });
}

/** Spends a link ticket (its random id): true the first time, false on any reuse. */
export async function spendLinkTicket(deps: Deps, jti: string, userId: string, expiresAt: number): Promise<boolean> {
  try {
    await deps.database.db
      .insert(signInRequests)
      .values({ id: linkRowId(jti), kind: KIND.link, status: "consumed", userId, createdAt: deps.clock.now(), expiresAt });
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

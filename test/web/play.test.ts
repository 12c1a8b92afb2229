// POST /l/:id/play, the web player's play count (docs/architecture.md "Web app"), in process: counted once per
// listener per 30 minutes through the same service as the API, JSON to the script and a 303 to a plain form, and
// refused without the CSRF token, signed out, for unknown loops and for someone else's unpublished loop; and
// POST /l/:id/listened, how long the loop was heard.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { desc, eq } from "drizzle-orm";
import { plays, posts } from "../../src/db/schema.ts";
import { registerUser } from "../support/auth.ts";
import { Browser } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertPost, insertReadyPost } from "../support/ready-posts.ts";

let env: TestEnv;
let mira: Awaited<ReturnType<typeof registerUser>>;
let fan: Awaited<ReturnType<typeof registerUser>>;
let loop: string;
let draft: string;

async function signedIn(who: typeof fan) {
  const b = new Browser(env);
  const page = await b.get("/signin");
  await b.submit(page, { login: who.input.username, password: who.input.password });
  const home = await b.get("/");
  const token = /<meta name="csrf-token" content="([^"]+)"/.exec(home.html)?.[1] ?? "";
  return { b, token };
}

const playCount = async (id: string) => (await env.deps.database.db.select({ n: posts.playCount }).from(posts).where(eq(posts.id, id)))[0]?.n;
const json = (token: string) => ({ method: "POST", headers: { accept: "application/json", "x-csrf-token": token } });

beforeAll(async () => {
  env = await createTestEnv("sqlite");
  mira = await registerUser(env, { username: "mira" });
  fan = await registerUser(env, { username: "fan" });
  loop = await insertReadyPost(env, mira.auth.user.id, "Night Drive");
  draft = await insertPost(env, mira.auth.user.id, "Still processing");
});
afterAll(() => env.close());

describe("POST /l/:id/play", () => {
  test("the script's play: counted once per 30 minutes, the count in JSON, never cached", async () => {
    const { b, token } = await signedIn(fan);
    expect(token.length).toBeGreaterThanOrEqual(32);
    const first = await b.fetch(`/l/${loop}/play`, json(token));
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("no-store");
    expect(JSON.parse(first.html)).toEqual({ play_count: 1, counted: true });
    const again = await b.fetch(`/l/${loop}/play`, json(token));
    expect(JSON.parse(again.html)).toEqual({ play_count: 1, counted: false });
    expect(await playCount(loop)).toBe(1);
  });

  test("a plain form post counts too and goes back to the loop's page", async () => {
    const { b, token } = await signedIn(mira);
    const res = await b.post(`/l/${loop}/play`, { csrf: token }, false);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/l/${loop}`);
    expect(await playCount(loop)).toBe(2);
  });

  test("without the CSRF token, or with another one: 403 and nothing counted", async () => {
    const other = await registerUser(env, { username: "other" });
    const { b } = await signedIn(other);
    const none = await b.fetch(`/l/${loop}/play`, { method: "POST", headers: { accept: "application/json" } });
    expect(none.status).toBe(403);
    expect(JSON.parse(none.html).error).toBe("csrf_failed");
    const wrong = await b.fetch(`/l/${loop}/play`, json("x".repeat(43)));
    expect(wrong.status).toBe(403);
    expect(await playCount(loop)).toBe(2);
  });

  test("signed out: 401 to the script, the sign-in page for a form, nothing counted (anonymous plays are not counted)", async () => {
    const b = new Browser(env);
    await b.get("/signin");
    const token = b.cookies.get("sc_csrf")!;
    const res = await b.fetch(`/l/${loop}/play`, json(token));
    expect(res.status).toBe(401);
    const form = await b.post(`/l/${loop}/play`, { csrf: token }, false);
    expect(form.status).toBe(303);
    expect(form.headers.get("location")).toStartWith("/signin");
    expect(await playCount(loop)).toBe(2);
  });

  test("an unknown loop and someone else's unpublished one are 404; a plain form goes back", async () => {
    const { b, token } = await signedIn(fan);
    for (const id of ["01900000-0000-7000-8000-000000000000", draft, "x".repeat(200)]) {
      const res = await b.fetch(`/l/${id}/play`, json(token));
      expect(res.status).toBe(404);
      expect(JSON.parse(res.html).error).toBe("post_not_found");
    }
    const form = await b.post(`/l/${draft}/play`, { csrf: token }, false);
    expect(form.status).toBe(303);
    expect(await playCount(draft)).toBe(0);
  });

  test("the listened time: kept on the listener's latest play (the longest report), refused when it is not a number of seconds", async () => {
    const { b, token } = await signedIn(fan);
    const listened = (seconds: string, t = token) =>
      b.fetch(`/l/${loop}/listened`, {
        method: "POST",
        headers: { accept: "application/json", "x-csrf-token": t, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ seconds }).toString(),
      });
    const latestListen = async () =>
      (await env.deps.database.db.select().from(plays).where(eq(plays.postId, loop)).orderBy(desc(plays.createdAt)))
        .filter((p) => p.userId === fan.auth.user.id)
        .at(0)?.listenMs;
    const ok = await listened("12.5");
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.html)).toEqual({ recorded: true });
    expect(await latestListen()).toBe(12_500);
    await listened("3"); // a shorter report (the same listen, reported earlier) changes nothing
    expect(await latestListen()).toBe(12_500);
    for (const bad of ["", "abc", "-1", "Infinity", "86401", "1e9"]) {
      const res = await listened(bad);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.html)).toMatchObject({ error: "validation_error", fields: { seconds: expect.any(String) } });
    }
    expect(await latestListen()).toBe(12_500);
    expect((await listened("20", "x".repeat(43))).status).toBe(403);
    // No play of theirs to attach it to: accepted, not recorded.
    const other = await registerUser(env, { username: "listener" });
    const o = await signedIn(other);
    const res = await o.b.fetch(`/l/${loop}/listened`, {
      method: "POST",
      headers: { accept: "application/json", "x-csrf-token": o.token, "content-type": "application/x-www-form-urlencoded" },
      body: "seconds=5",
    });
    expect(JSON.parse(res.html)).toEqual({ recorded: false });
  });

  test("the API's rate limit applies (the same 'plays' budget)", async () => {
    const { b, token } = await signedIn(fan);
    let last = 0;
    for (let i = 0; i < 301 && last !== 429; i++) last = (await b.fetch(`/l/${loop}/play`, json(token))).status;
    expect(last).toBe(429);
  });
});

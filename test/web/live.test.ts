// Live updates in the browser (docs/security.md "Web app"): POST /web/ws-token hands a signed-in page a single-use
// WebSocket ticket (CSRF-checked, rate limited, never a Bearer token or a cookie), and the hub takes it once, within
// 60 s, from this server's own origin only, for the browser session that asked; events then arrive on that socket.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { signAccessToken } from "../../src/auth/tokens.ts";
import { publishPostReady, publishReaction } from "../../src/realtime/events.ts";
import { registerUser } from "../support/auth.ts";
import { Browser } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { startRealtime, type Producer, type RealtimeServer } from "../support/realtime.ts";
import { settableClock } from "../support/timers.ts";
import { upgradeRequest, WsClient } from "../support/ws.ts";

type Ticket = { token: string; expires_in: number };
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString());

/** Signs in at /signin like a browser and returns it with the page's CSRF token (what the script sends as a header). */
async function signIn(env: Pick<TestEnv, "request">, login: string, password: string) {
  const b = new Browser(env as TestEnv);
  await b.submit(await b.get("/signin"), { login, password });
  if (!b.cookies.has("sc_session")) throw new Error("sign-in failed");
  return { b, csrf: b.cookies.get("sc_csrf")! };
}

const askTicket = (b: Browser, headers: Record<string, string>) =>
  b.fetch("/web/ws-token", { method: "POST", headers: { accept: "application/json", ...headers } }, false);

describe("POST /web/ws-token", () => {
  let env: TestEnv;
  let mira: Awaited<ReturnType<typeof registerUser>>;
  beforeAll(async () => {
    env = await createTestEnv();
    mira = await registerUser(env, { username: "mira" });
  });
  afterAll(() => env.close());

  test("signed in with the CSRF header: a 60 s ticket of type ws, bound to the browser session, not cached", async () => {
    const { b, csrf } = await signIn(env, "mira", mira.input.password);
    const res = await askTicket(b, { "x-csrf-token": csrf });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = JSON.parse(res.html) as Ticket;
    expect(body).toEqual({ token: expect.any(String), expires_in: 60 });
    const claims = claimsOf(body.token);
    const session = claimsOf(b.cookies.get("sc_session")!);
    expect(claims).toMatchObject({ typ: "ws", sub: mira.auth.user.id, sid: session.sid });
    expect(claims.exp - claims.iat).toBe(60);
    expect(claims.jti).toEqual(expect.any(String));
    // Each ask is a new ticket.
    const again = JSON.parse((await askTicket(b, { "x-csrf-token": csrf })).html) as Ticket;
    expect(claimsOf(again.token).jti).not.toBe(claims.jti);
  });

  test("without or with a wrong CSRF token: 403 csrf_failed, no ticket", async () => {
    const { b } = await signIn(env, "mira", mira.input.password);
    for (const headers of [{}, { "x-csrf-token": "not-the-cookie" }] as Record<string, string>[]) {
      const res = await askTicket(b, headers);
      expect(res.status).toBe(403);
      expect(JSON.parse(res.html)).toEqual({ error: "csrf_failed", message: expect.any(String) });
    }
    // A plain form post (no script) without the token goes nowhere either: back to the page, no JSON ticket.
    const form = await b.post("/web/ws-token", { csrf: "wrong" }, false);
    expect(form.status).toBe(303);
    expect(form.html).not.toContain("token");
  });

  test("signed out: 401 unauthorized (a CSRF cookie alone proves nobody); an API access token is no session", async () => {
    const b = new Browser(env);
    await b.get("/signin"); // gets the CSRF cookie
    const csrf = b.cookies.get("sc_csrf")!;
    const res = await askTicket(b, { "x-csrf-token": csrf });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.html).error).toBe("unauthorized");
    const bearer = await askTicket(b, { "x-csrf-token": csrf, authorization: `Bearer ${mira.auth.token}` });
    expect(bearer.status).toBe(401);
  });

  test("a ticket is never a Bearer token of the API nor the pages' session cookie", async () => {
    const { b, csrf } = await signIn(env, "mira", mira.input.password);
    const { token } = JSON.parse((await askTicket(b, { "x-csrf-token": csrf })).html) as Ticket;
    const api = await env.request("/api/v1/users/me", { token });
    expect(api.status).toBe(401);
    expect((await api.json()).error).toBe("invalid_token");
    const asCookie = new Browser(env);
    asCookie.cookies.set("sc_session", token);
    const page = await asCookie.get("/");
    expect(page.html).not.toContain('href="/@mira"');
    expect(page.html).toContain('href="/signin"');
  });

  test("rate limited per user: the 61st ticket in a minute is 429 with Retry-After", async () => {
    const fan = await registerUser(env, { username: "fan" });
    const { b, csrf } = await signIn(env, "fan", fan.input.password);
    for (let i = 0; i < 60; i++) expect((await askTicket(b, { "x-csrf-token": csrf })).status).toBe(200);
    const limited = await askTicket(b, { "x-csrf-token": csrf });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBeTruthy();
    expect(JSON.parse(limited.html).error).toBe("rate_limited");
    // Someone else's budget is their own.
    const other = await signIn(env, "mira", mira.input.password);
    expect((await askTicket(other.b, { "x-csrf-token": other.csrf })).status).toBe(200);
  });

  test("the OpenAPI document lists it under web, with its answer", async () => {
    const doc = await (await env.request("/docs/json")).json();
    const op = doc.paths["/web/ws-token"]?.post;
    expect(op?.tags).toEqual(["web"]);
    expect(op?.summary).toContain("WebSocket");
    expect(op?.responses?.["200"]).toBeDefined();
    expect(op?.responses?.["403"]).toBeDefined();
  });
});

describe("the hub takes a ticket", () => {
  let s: RealtimeServer;
  const clock = settableClock();
  let origin: string;
  let mira: Producer;
  let fan: Producer;
  let web: Awaited<ReturnType<typeof signIn>>;
  /** The real server as the Browser helper's env: over HTTP, redirects left to the helper. */
  const over = (url: string) => ({ request: (path: string, init: RequestInit = {}) => fetch(`${url}${path}`, { ...init, redirect: "manual" }) });
  const ticket = async () => JSON.parse((await askTicket(web.b, { "x-csrf-token": web.csrf })).html).token as string;
  const connect = (token: string, headers: Record<string, string> = { origin }) => WsClient.connect(s.url, token, "/api/v1/ws?client=web", headers);

  beforeAll(async () => {
    s = await startRealtime({ PRESENCE_GRACE_MS: "0" }, { clock });
    origin = new URL(s.running.deps.config.PUBLIC_URL).origin;
    mira = await s.producer();
    fan = await s.producer();
    web = await signIn(over(s.url), fan.username, "correct horse battery staple");
  });
  afterAll(() => s.stop());

  test("once, from this server's origin: the socket is the fan's, and a second use is the same 401 as a bad token", async () => {
    const token = await ticket();
    const c = await connect(token);
    await s.follow(fan, mira);
    const postId = await s.readyPost(mira);
    await publishPostReady(s.running.deps, postId);
    const f = await c.next("new_post");
    expect(f.payload).toMatchObject({ id: postId, author: { id: mira.id } });
    expect(s.running.hub.connectionsOf(fan.id)).toBe(1);

    const reused = await upgradeRequest(s.url, `?token=${token}`, { origin });
    expect(reused.status).toBe(401);
    expect(await reused.json()).toEqual({ error: "invalid_token", message: expect.any(String) });
    await expect(connect(token)).rejects.toThrow();
    await c.close();
  });

  test("reaction counts reach the socket for the posts the page watches", async () => {
    const c = await connect(await ticket());
    const postId = await s.readyPost(mira);
    c.send({ type: "watch", payload: { post_ids: [postId] }, timestamp: Date.now() });
    expect((await c.next("watching")).payload.post_ids).toContain(postId);
    await publishReaction(s.running.deps, { postId, ownerId: mira.id, actorId: mira.id, liked: true, likeCount: 1, reactionCounts: { "🔥": 1 } });
    const liked = await c.next("post_liked");
    expect(liked.payload).toMatchObject({ post_id: postId, like_count: 1 });
    await c.close();
  });

  test("a foreign origin, or none, is refused with 403 and leaves the ticket unspent", async () => {
    const token = await ticket();
    for (const headers of [{ origin: "https://evil.example" }, {}] as Record<string, string>[]) {
      const res = await upgradeRequest(s.url, `?token=${token}`, headers);
      expect(res.status).toBe(403);
      expect((await res.json()).error).toBe("origin_refused");
    }
    const c = await connect(token);
    await c.close();
  });

  test("expired after 60 s (the server's clock), refused with 401 token_expired", async () => {
    const token = await ticket();
    clock.advance(61_000);
    try {
      const res = await upgradeRequest(s.url, `?token=${token}`, { origin });
      expect(res.status).toBe(401);
      expect((await res.json()).error).toBe("token_expired");
    } finally {
      clock.advance(-61_000);
    }
  });

  test("only as ?token=: a ticket in the Authorization header is taken for an access token and refused", async () => {
    const res = await upgradeRequest(s.url, "", { origin, authorization: `Bearer ${await ticket()}` });
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe("invalid_token");
  });

  test("other token types are no ticket: the browser cookie's token and an access token typed ws by someone without the key", async () => {
    const cookie = await upgradeRequest(s.url, `?token=${web.b.cookies.get("sc_session")}`, { origin });
    expect(cookie.status).toBe(401);
    const claims = claimsOf(fan.token);
    const forged = await signAccessToken("not-the-secret", { userId: fan.id, sessionId: claims.sid, tokenId: "x" }, clock.now(), 60, "ws");
    const res = await upgradeRequest(s.url, `?token=${forged.token}`, { origin });
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe("invalid_token");
    // An API access token still works from any origin (the plugin sends none; a page cannot borrow a cookie).
    const api = await WsClient.connect(s.url, fan.token, "/api/v1/ws", { origin: "https://elsewhere.example" });
    await api.close();
  });

  test("a ticket lives and dies with its browser session: signed out, it is refused and the open socket closes", async () => {
    const other = await signIn(over(s.url), mira.username, "correct horse battery staple");
    const take = async () => JSON.parse((await askTicket(other.b, { "x-csrf-token": other.csrf })).html).token as string;
    const c = await connect(await take());
    const spare = await take();
    await other.b.post("/signout", { csrf: other.csrf });
    expect((await c.waitClosed()).code).toBe(4001);
    const res = await upgradeRequest(s.url, `?token=${spare}`, { origin });
    expect(res.status).toBe(401);
  });

  test("spent tickets are forgotten once expired (the table does not grow)", async () => {
    const db = s.running.deps.database.db;
    const count = async () => (await db.all<{ n: number }>(sql`SELECT count(*) AS n FROM used_ws_tokens`))[0]!.n;
    expect(await count()).toBeGreaterThan(0);
    clock.advance(121_000);
    const c = await connect(await ticket());
    expect(await count()).toBe(1);
    await c.close();
  });
});

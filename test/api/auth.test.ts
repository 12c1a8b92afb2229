// Native accounts, tokens and sessions: scenarios on a fresh database each, on bun:sqlite and on a real sqld.
import { afterEach, describe, expect, test } from "bun:test";
import { Database as SQLite } from "bun:sqlite";
import { SignJWT } from "jose";
import { join } from "node:path";
import { authenticateToken } from "../../src/auth/guard.ts";
import { signAccessToken } from "../../src/auth/tokens.ts";
import { eq, sql } from "drizzle-orm";
import { sessions, users } from "../../src/db/schema.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { awaitLinkToken, expectError, expectOk, json, linkToken, mailTo, newUserInput, registerUser } from "../support/auth.ts";
import { Browser } from "../support/browser.ts";
import { setPeerAddress } from "../../src/http/client-ip.ts";
import { newUserRow } from "../../src/users/service.ts";

let env: TestEnv;
afterEach(() => env?.close());

const post = (path: string, body?: unknown, token?: string, headers?: Record<string, string>) =>
  env.request(`/api/v1/auth${path}`, { method: "POST", json: body ?? {}, token, headers });
const get = (path: string, token?: string) => env.request(path.startsWith("/api") ? path : `/api/v1/auth${path}`, { token });

for (const driver of DRIVERS) {
  describe(`accounts on ${driver}`, () => {
    test("register → login → me → refresh → logout; the logged-out session's token is rejected at once", async () => {
      env = await createTestEnv(driver, { PUBLIC_URL: "https://loops.example.com" });
      const { input, auth } = await registerUser(env);
      expect(auth.user).toMatchObject({ username: input.username, email: input.email, email_verified: false, has_password: true, linked_providers: [] });
      expect("error" in auth).toBe(false);

      const login = await post("/login", { email: input.email, password: input.password });
      expect(login.status).toBe(200);
      const { auth: a2 } = await json(login);
      // login by username works too, case-insensitively
      expect((await post("/login", { email: input.username.toUpperCase(), password: input.password })).status).toBe(200);

      const me = await json(await get("/me", a2.token));
      expect(me.id).toBe(auth.user.id);
      expect(await json(await get("/api/v1/users/me", a2.token))).toEqual(me);

      const refreshed = await json(await post("/refresh", { refresh_token: a2.refresh_token }));
      expect(refreshed.auth.refresh_token).not.toBe(a2.refresh_token);
      expect(refreshed.auth.user.id).toBe(auth.user.id);

      expect(await json(await post("/logout", {}, refreshed.auth.token))).toEqual({ ok: true });
      const after = await get("/me", refreshed.auth.token);
      expect(after.status).toBe(401);
      expect((await json(after)).error).toBe("invalid_token");
      // other sessions still work
      expect((await get("/me", auth.token)).status).toBe(200);
    });

    test("refresh-token reuse revokes the whole session", async () => {
      env = await createTestEnv(driver);
      const { auth } = await registerUser(env);
      const first = await json(await post("/refresh", { refresh_token: auth.refresh_token }));
      const reuse = await post("/refresh", { refresh_token: auth.refresh_token });
      expect(reuse.status).toBe(401);
      expect((await json(reuse)).error).toBe("invalid_token");
      // the legitimate holder's newer tokens are dead too
      expect((await post("/refresh", { refresh_token: first.auth.refresh_token })).status).toBe(401);
      expect((await get("/me", first.auth.token)).status).toBe(401);
    });

    test("the plugin's {token} refresh trades the session's newest access token once; trading it again is reuse and signs the session out", async () => {
      env = await createTestEnv(driver);
      const { auth } = await registerUser(env);
      env.clock.advance(60_000);
      const first = await expectOk(await post("/refresh", { token: auth.token }));
      expect(Object.keys(first).sort()).toEqual(["expires_at", "token", "user"]);
      expect(first.token).not.toBe(auth.token);
      const second = await expectOk(await post("/refresh", { token: first.token }));
      expect((await get("/me", second.token)).status).toBe(200);
      // a copy of an already traded token (stolen, or replayed): the whole session ends, for both holders
      await expectError(await post("/refresh", { token: first.token }), 401, "invalid_token");
      await expectError(await get("/me", second.token), 401, "invalid_token");
      await expectError(await post("/refresh", { token: second.token }), 401, "invalid_token");
      await expectError(await post("/refresh", { refresh_token: auth.refresh_token }), 401, "invalid_token");
    });

    test("the {token} refresh needs an unexpired token of a live session, and only the newest one; an access token lives as long as its session can", async () => {
      // idle limit = hard limit, so the sessions below live exactly until their hard end without being used
      env = await createTestEnv(driver, { SESSION_IDLE_TTL_S: String(90 * 86400), SESSION_MAX_TTL_S: String(90 * 86400) });
      const late = (await registerUser(env)).auth;
      const inGrace = (await registerUser(env)).auth;
      const superseded = (await registerUser(env)).auth;
      const ttl = env.deps.config.SESSION_MAX_TTL_S * 1000;
      expect(Date.parse(late.expires_at)).toBe(Math.floor((env.clock.now() + ttl) / 1000) * 1000);
      // the refresh-token rotation makes a newer access token: the older one can no longer be traded (nor is that reuse)
      const rotated = (await expectOk(await post("/refresh", { refresh_token: superseded.refresh_token }))).auth;
      await expectError(await post("/refresh", { token: superseded.token }), 401, "invalid_token");
      expect((await get("/me", rotated.token)).status).toBe(200);
      expect((await expectOk(await post("/refresh", { token: rotated.token }))).token).toBeTruthy();

      // past the 24 h the plugin assumes, a token it restored at start (and never refreshes) still works
      env.clock.advance(25 * 3600_000);
      expect((await get("/me", late.token)).status).toBe(200);
      expect((await expectOk(await post("/refresh", { token: inGrace.token }))).user.id).toBe(inGrace.user.id);
      // at the session's hard end the token ends with it, and nothing can extend it: sign in again
      env.clock.advance(ttl - 25 * 3600_000 + 2 * 60_000);
      await expectError(await get("/me", late.token), 401, "token_expired");
      await expectError(await post("/refresh", { token: late.token }), 401, "token_expired");
      expect((await post("/refresh", { refresh_token: late.refresh_token })).status).toBe(401);
    });

    test("password reset: single use, purpose-bound, expires, revokes all sessions, link uses PUBLIC_URL", async () => {
      env = await createTestEnv(driver, { PUBLIC_URL: "https://loops.example.com" });
      const { input, auth } = await registerUser(env);
      const verifyToken = await linkToken(env, input.email, "/verify-email");
      const res = await post("/forgot-password", { email: input.email }, undefined, { host: "evil.example.net" });
      expect(res.status).toBe(202);
      expect(await json(res)).toEqual({ ok: true });
      const token = await awaitLinkToken(env, input.email, "/reset-password"); // the reset is prepared in the background
      // purpose-bound: a verification token cannot reset, a reset token cannot verify
      expect((await post("/reset-password/confirm", { token: verifyToken, new_password: "another fine passphrase" })).status).toBe(400);
      expect((await post("/verify-email", { token })).status).toBe(400);
      // a refused password does not burn the link
      const weak = await post("/reset-password/confirm", { token, new_password: "password" });
      expect(weak.status).toBe(400);
      expect((await json(weak)).error).toBe("validation_error");
      expect(await json(await post("/reset-password/confirm", { token, new_password: "another fine passphrase" }))).toEqual({ ok: true });
      expect((await post("/reset-password/confirm", { token, new_password: "yet another passphrase" })).status).toBe(400);
      expect((await get("/me", auth.token)).status).toBe(401);
      expect((await post("/login", { email: input.email, password: input.password })).status).toBe(401);
      expect((await post("/login", { email: input.email, password: "another fine passphrase" })).status).toBe(200);
      // expiry: a reset token older than 30 minutes is refused
      await post("/forgot-password", { email: input.email });
      const late = await awaitLinkToken(env, input.email, "/reset-password", token);
      env.clock.advance(31 * 60_000);
      expect((await post("/reset-password/confirm", { token: late, new_password: "too late passphrase" })).status).toBe(400);
      // the owner was told
      expect((await mailTo(env, input.email)).some((m) => m.subject.includes("security notice"))).toBe(true);
    });

    test("the plugin's reset paths: POST /reset-password with {email} asks, with {token,new_password} redeems", async () => {
      env = await createTestEnv(driver);
      const { input } = await registerUser(env);
      const asked = await post("/reset-password", { email: input.email });
      expect(asked.status).toBe(202);
      const token = await awaitLinkToken(env, input.email, "/reset-password");
      expect(await json(await post("/reset-password", { token, new_password: "plugin chosen passphrase" }))).toEqual({ ok: true });
      expect((await post("/login", { email: input.email, password: "plugin chosen passphrase" })).status).toBe(200);
    });

    test("email verification (with the account's password) marks the account verified and signs out earlier sessions", async () => {
      env = await createTestEnv(driver);
      const { input, auth } = await registerUser(env);
      const token = await linkToken(env, input.email, "/verify-email");
      expect(await json(await post("/verify-email", { token, password: input.password }))).toEqual({ ok: true });
      expect((await post("/verify-email", { token, password: input.password })).status).toBe(400);
      const [row] = await env.deps.database.db.select().from(users).where(eq(users.id, auth.user.id));
      expect(row!.emailVerified).toBe(true);
      expect((await get("/me", auth.token)).status).toBe(401);
    });

    test("change password needs the current one and signs out the other sessions", async () => {
      env = await createTestEnv(driver);
      const { input, auth } = await registerUser(env);
      const other = (await json(await post("/login", { email: input.email, password: input.password }))).auth;
      const wrong = await post("/change-password", { current_password: "not it at all", new_password: "brand new passphrase" }, auth.token);
      expect(wrong.status).toBe(401);
      expect(await json(await post("/change-password", { current_password: input.password, new_password: "brand new passphrase" }, auth.token))).toEqual({
        ok: true,
      });
      expect((await get("/me", auth.token)).status).toBe(200);
      expect((await get("/me", other.token)).status).toBe(401);
    });

    test("sessions can be listed and one revoked", async () => {
      env = await createTestEnv(driver);
      const { input, auth } = await registerUser(env);
      const other = (await json(await post("/login", { email: input.email, password: input.password }, undefined, { "user-agent": "Sidechain-Plugin/1.0" })))
        .auth;
      const list = await json(await get("/sessions", auth.token));
      expect(list.sessions).toHaveLength(2);
      const current = list.sessions.find((s: any) => s.current);
      const plugin = list.sessions.find((s: any) => !s.current);
      expect(plugin.user_agent).toBe("Sidechain-Plugin/1.0");
      expect(await json(await env.request(`/api/v1/auth/sessions/${plugin.id}`, { method: "DELETE", token: auth.token }))).toEqual({ ok: true });
      expect((await get("/me", other.token)).status).toBe(401);
      expect((await env.request(`/api/v1/auth/sessions/${plugin.id}`, { method: "DELETE", token: auth.token })).status).toBe(404);
      expect(current.id).toBeTruthy();
      // logout-all
      await post("/logout-all", {}, auth.token);
      expect((await get("/me", auth.token)).status).toBe(401);
    });
  });
}

describe("the session check of every request on bun:sqlite (kept in an exact cache)", () => {
  test("a revocation, a profile change or a deletion made by another process on the same file counts at the next request", async () => {
    env = await createTestEnv("sqlite");
    const { auth } = await registerUser(env);
    const second = await registerUser(env);
    for (let i = 0; i < 2; i++) expect((await get("/me", auth.token)).status).toBe(200); // the second one is a cache hit
    // Another process (a second server on the same DATA_DIR, or the CLI) writes to the file directly.
    const other = new SQLite(join(env.deps.config.DATA_DIR, "sidechain.db"));
    try {
      other.exec("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON");
      other.query("UPDATE users SET display_name = 'Renamed Elsewhere' WHERE id = ?").run(second.auth.user.id);
      expect((await json(await get("/me", second.auth.token))).display_name).toBe("Renamed Elsewhere");
      other.query("UPDATE sessions SET revoked_at = ?, revoke_reason = 'admin' WHERE user_id = ?").run(Date.now(), auth.user.id);
      const revoked = await get("/me", auth.token);
      expect([revoked.status, (await json(revoked)).error]).toEqual([401, "invalid_token"]);
      other.query("DELETE FROM users WHERE id = ?").run(second.auth.user.id);
      expect((await get("/me", second.auth.token)).status).toBe(401);
    } finally {
      other.close();
    }
  });

  test("a burst of requests after a minute idle slides the session once (one write, not one per request)", async () => {
    env = await createTestEnv("sqlite");
    const { auth } = await registerUser(env);
    expect((await get("/me", auth.token)).status).toBe(200); // the session and user are now cached
    const changes = async () => (await env.deps.database.db.all<{ n: number }>(sql`SELECT total_changes() AS n`))[0]!.n;
    env.clock.advance(61_000);
    const before = await changes();
    const answers = await Promise.all(Array.from({ length: 10 }, () => get("/me", auth.token)));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect((await changes()) - before).toBe(1);
    const [row] = await env.deps.database.db.select().from(sessions).where(eq(sessions.userId, auth.user.id));
    expect(row!.lastUsedAt).toBe(env.clock.now());
  });

  test("the cached user is frozen: no handler can change what the next request sees", async () => {
    env = await createTestEnv("sqlite");
    const { auth } = await registerUser(env);
    await authenticateToken(env.deps, auth.token);
    const cached = await authenticateToken(env.deps, auth.token);
    expect(Object.isFrozen(cached.user) && Object.isFrozen(cached.session)).toBe(true);
    expect(() => Object.assign(cached.user, { displayName: "changed in place" })).toThrow(TypeError);
  });
});

describe("login answers", () => {
  test("unknown email and wrong password: identical status and body", async () => {
    env = await createTestEnv();
    const { input } = await registerUser(env);
    const a = await post("/login", { email: "nobody@example.com", password: input.password });
    const b = await post("/login", { email: input.email, password: "wrong password entirely" });
    expect(a.status).toBe(401);
    expect(b.status).toBe(401);
    expect(await a.text()).toBe(await b.text());
  });

  test("the N+1th failed login for one account from one client gets 429 with Retry-After, even with the right password", async () => {
    env = await createTestEnv("sqlite", { LOGIN_FAILURES_BEFORE_BACKOFF: "3", TRUSTED_PROXIES: "" });
    const { input } = await registerUser(env);
    for (let i = 0; i < 3; i++) {
      // (an X-Forwarded-For from a peer that is not a trusted proxy is ignored: still the same client)
      const r = await post("/login", { email: input.email, password: `wrong ${i} password` }, undefined, { "x-forwarded-for": `198.51.100.${i}` });
      expect(r.status).toBe(401);
    }
    const limited = await post("/login", { email: input.email, password: input.password }, undefined, { "x-forwarded-for": "203.0.113.9" });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await json(limited)).error).toBe("rate_limited");
    // once the wait is over, the right password works
    env.clock.advance(2000);
    expect((await post("/login", { email: input.email, password: input.password })).status).toBe(200);
  });

  test("per-IP limit on registration answers 429 with Retry-After", async () => {
    env = await createTestEnv("sqlite", { RATE_LIMIT_AUTH_PER_MIN: "2" });
    await registerUser(env);
    await registerUser(env);
    const third = await post("/register", newUserInput());
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).toBeTruthy();
  });
});

describe("registration rules", () => {
  test("bad fields are a validation error naming them, and nothing is created", async () => {
    env = await createTestEnv();
    const r = await post("/register", { email: "not-an-email", username: "x", password: "password" });
    expect(r.status).toBe(400);
    const body = await json(r);
    expect(Object.keys(body.fields).sort()).toEqual(["email", "password", "username"]);
    expect(await env.deps.database.db.select().from(users)).toHaveLength(0);
  });

  test("a taken username is 409 username_taken, case-insensitively", async () => {
    env = await createTestEnv();
    const { input } = await registerUser(env, { username: "beatsmith" });
    const r = await post("/register", newUserInput({ username: "BeatSmith" }));
    expect(r.status).toBe(409);
    expect((await json(r)).error).toBe("username_taken");
    expect(input.username).toBe("beatsmith");
  });

  test("registering an email that has an account changes nothing and mails the owner", async () => {
    env = await createTestEnv();
    const { input, auth } = await registerUser(env);
    const r = await post("/register", newUserInput({ email: input.email.toUpperCase(), password: "attacker password here" }));
    expect(r.status).toBe(409);
    expect((await json(r)).error).toBe("email_taken");
    expect((await post("/login", { email: input.email, password: "attacker password here" })).status).toBe(401);
    expect((await get("/me", auth.token)).status).toBe(200);
    const mails = await mailTo(env, input.email);
    expect(mails[0]!.subject).toContain("tried to create");
    expect(mails[0]!.text).not.toContain("/set-password"); // the account has a password: no link
  });
});

describe("access tokens", () => {
  const claims = (_env: TestEnv, sid: string, sub: string) => ({ sid, typ: "access", sub, iss: "sidechain", aud: "sidechain-api" });
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");

  test("alg:none, another algorithm, wrong audience, expired, or a revoked session → 401", async () => {
    env = await createTestEnv();
    const { auth } = await registerUser(env);
    const me = (token: string) => get("/me", token);
    const [, payload] = auth.token.split(".");
    const real = JSON.parse(Buffer.from(payload!, "base64url").toString());
    const key = new TextEncoder().encode(env.deps.config.JWT_SECRET);

    const none = `${b64({ alg: "none", typ: "JWT" })}.${payload}.`;
    expect((await json(await me(none))).error).toBe("invalid_token");

    const hs512 = await new SignJWT(claims(env, real.sid, real.sub)).setProtectedHeader({ alg: "HS512" }).setIssuedAt().setExpirationTime("1h").sign(key);
    expect((await json(await me(hs512))).error).toBe("invalid_token");

    const wrongAud = await new SignJWT({ ...claims(env, real.sid, real.sub), aud: "someone-else" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(key);
    expect((await json(await me(wrongAud))).error).toBe("invalid_token");

    const wrongTyp = await new SignJWT({ ...claims(env, real.sid, real.sub), typ: "refresh" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(key);
    expect((await json(await me(wrongTyp))).error).toBe("invalid_token");

    const otherKey = await new SignJWT(claims(env, real.sid, real.sub))
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode("x".repeat(48)));
    expect((await json(await me(otherKey))).error).toBe("invalid_token");

    const life = env.deps.config.SESSION_MAX_TTL_S * 1000 + 1000; // an access token ends with its session's hard limit
    env.clock.advance(life);
    const expired = await me(auth.token);
    expect(expired.status).toBe(401);
    expect((await json(expired)).error).toBe("token_expired");
    env.clock.advance(-life);

    await post("/logout", {}, auth.token);
    expect((await json(await me(auth.token))).error).toBe("invalid_token");
  });

  test("no token is 401 unauthorized; the plugin's refresh form extends a live session only", async () => {
    env = await createTestEnv();
    expect((await json(await get("/me"))).error).toBe("unauthorized");
    const { auth } = await registerUser(env);
    env.clock.advance(23 * 3600_000);
    const r = await json(await post("/refresh", { token: auth.token }));
    expect(Object.keys(r).sort()).toEqual(["expires_at", "token", "user"]);
    expect(r.user).toEqual({ id: auth.user.id, username: auth.user.username });
    // every access token of a session ends at the session's hard end: a trade renews the token, not the end
    expect(r.expires_at).toBe(auth.expires_at);
    await post("/logout", {}, r.token);
    const dead = await post("/refresh", { token: auth.token });
    expect(dead.status).toBe(401);
    expect((await post("/refresh", {})).status).toBe(400);
  });

  test("a token minted before token ids existed (no jti) can be traded once per session; a second such token is reuse", async () => {
    env = await createTestEnv();
    const { auth } = await registerUser(env);
    const sid = JSON.parse(Buffer.from(auth.token.split(".")[1]!, "base64url").toString()).sid;
    // the session as the migration left it: no token id recorded
    await env.deps.database.db.update(sessions).set({ accessTokenId: null }).where(eq(sessions.id, sid));
    const legacy = (await signAccessToken(env.deps.config.JWT_SECRET, { userId: auth.user.id, sessionId: sid }, env.clock.now(), 3600)).token;
    const traded = await expectOk(await post("/refresh", { token: legacy }));
    expect((await get("/me", traded.token)).status).toBe(200);
    const replay = (await signAccessToken(env.deps.config.JWT_SECRET, { userId: auth.user.id, sessionId: sid }, env.clock.now() + 1000, 3600)).token;
    await expectError(await post("/refresh", { token: replay }), 401, "invalid_token");
    await expectError(await get("/me", traded.token), 401, "invalid_token");
  });

  test("the sc_session cookie takes only a browser-session token, and the API refuses that token", async () => {
    env = await createTestEnv();
    const { input, auth } = await registerUser(env);
    // an API access token set as the cookie does not sign the pages in
    const forged = new Browser(env);
    forged.cookies.set("sc_session", auth.token);
    const page = await forged.get("/signin");
    expect(page.html).toContain("<h1>Sign in</h1>");
    expect(page.html).not.toContain("You are signed in");
    expect((await forged.get("/device", false)).status).toBe(303);

    // the browser session's own token: the pages take it, the API does not (as a Bearer token or on /refresh)
    const browser = new Browser(env);
    await browser.submit(await browser.get("/signin"), { login: input.email, password: input.password });
    const cookie = browser.cookies.get("sc_session")!;
    expect((await browser.get("/signin")).html).toContain("You are signed in");
    await expectError(await get("/me", cookie), 401, "invalid_token");
    await expectError(await post("/refresh", { token: cookie }), 401, "invalid_token");
    await expectError(await post("/google/link-start", {}, cookie), 401, "invalid_token");
    expect((await browser.get("/signin")).html).toContain("You are signed in"); // refusing it revoked nothing
  });

  test("sessions end after 30 idle days and after 90 days whatever happens", async () => {
    env = await createTestEnv();
    const { auth } = await registerUser(env);
    env.clock.advance(31 * 86400_000);
    expect((await post("/refresh", { refresh_token: auth.refresh_token })).status).toBe(401);

    const second = await registerUser(env);
    let refresh = second.auth.refresh_token;
    for (let day = 0; day < 95; day += 20) {
      env.clock.advance(20 * 86400_000);
      const r = await post("/refresh", { refresh_token: refresh });
      if (day + 20 < 90) {
        expect(r.status).toBe(200);
        refresh = (await json(r)).auth.refresh_token;
      } else expect(r.status).toBe(401);
    }
  });
});

/** A POST to /api/v1/auth from a client at `ip` (the TCP peer, as Bun.serve reports it). */
function fromIp(ip: string, path: string, body: unknown) {
  const request = new Request(`http://localhost/api/v1/auth${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  setPeerAddress(request, ip);
  return env.app.handle(request);
}

describe("confirming an email needs the account's password (pre-hijacking)", () => {
  test("POST /verify-email without the password, or with a wrong one, is refused, changes nothing and leaves the link usable", async () => {
    env = await createTestEnv();
    const { input, auth } = await registerUser(env);
    const token = await linkToken(env, input.email, "/verify-email");
    const missing = await expectError(await post("/verify-email", { token }), 400, "validation_error");
    expect(Object.keys(missing.fields)).toEqual(["password"]);
    await expectError(await post("/verify-email", { token, password: "somebody else's guess" }), 401, "invalid_credentials");
    const [row] = await env.deps.database.db.select().from(users).where(eq(users.id, auth.user.id));
    expect(row!.emailVerified).toBe(false);
    expect((await get("/me", auth.token)).status).toBe(200);
    expect(await expectOk(await post("/verify-email", { token, password: input.password }))).toEqual({ ok: true });
  });

  test("the verification mail says what to do if you did not create the account, with its own link", async () => {
    env = await createTestEnv("sqlite", { PUBLIC_URL: "https://loops.example.com" });
    const { input } = await registerUser(env);
    const [mail] = await mailTo(env, input.email);
    expect(mail!.text).toContain("If you did not create this account");
    expect(mail!.html).toContain("/not-my-account?token=");
    expect((await linkToken(env, input.email, "/not-my-account")).length).toBeGreaterThan(40);
  });
});

describe("mail to an address that has an account", () => {
  test("25 registrations with it send no more than the address's hourly budget, answer the same 409, and cancel none of the owner's links", async () => {
    env = await createTestEnv("sqlite", { RATE_LIMIT_MAIL_PER_HOUR: "4" });
    const email = "owner-without-password@example.com";
    // An account without a password (as a Google sign-up makes), whose owner asked for a set-password link.
    await env.deps.database.db
      .insert(users)
      .values(newUserRow({ email, emailVerified: true, username: "googleonly", displayName: "G", passwordHash: null }, Date.now()));
    expect((await post("/forgot-password", { email })).status).toBe(202);
    const ownersLink = await awaitLinkToken(env, email, "/set-password"); // the reset request is prepared in the background

    const answers = [];
    for (let i = 0; i < 25; i++) {
      const r = await post("/register", newUserInput({ email, password: `attacker password ${i}` }));
      answers.push({ status: r.status, body: await r.text() });
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0]!.status).toBe(409);
    expect(JSON.parse(answers[0]!.body).error).toBe("email_taken");
    // 1 set-password mail + 3 "someone tried to register": the budget of 4, shared by every kind of account mail.
    expect(await mailTo(env, email)).toHaveLength(4);
    await expectError(await post("/forgot-password", { email }), 429, "rate_limited");

    // The owner's link still works (and the links the attempts sent are live too until one is used).
    expect(await expectOk(await post("/set-password", { token: ownersLink, password: "the owner's own passphrase" }))).toEqual({ ok: true });
    expect((await post("/login", { email, password: "the owner's own passphrase" })).status).toBe(200);
  });
});

describe("login backoff per account and client", () => {
  test("failures by username and by email count for one account", async () => {
    env = await createTestEnv("sqlite", { LOGIN_FAILURES_BEFORE_BACKOFF: "3" });
    const { input } = await registerUser(env);
    for (const login of [input.username, input.username.toUpperCase(), ` ${input.username} `]) {
      expect((await fromIp("198.51.100.7", "/login", { email: login, password: "not the password" })).status).toBe(401);
    }
    await expectError(await fromIp("198.51.100.7", "/login", { email: input.email, password: "not the password either" }), 429, "rate_limited");
  });

  test("a stranger's failures lock the stranger's client, not the owner's", async () => {
    env = await createTestEnv("sqlite", { LOGIN_FAILURES_BEFORE_BACKOFF: "3" });
    const { input } = await registerUser(env);
    for (let i = 0; i < 3; i++) expect((await fromIp("203.0.113.66", "/login", { email: input.email, password: `guess ${i} here` })).status).toBe(401);
    await expectError(await fromIp("203.0.113.66", "/login", { email: input.email, password: input.password }), 429, "rate_limited");
    // The owner, elsewhere, who has not been failing: in at once.
    expect((await fromIp("192.0.2.10", "/login", { email: input.email, password: input.password })).status).toBe(200);
  });

  test("an identifier without an account backs off exactly like one with an account", async () => {
    env = await createTestEnv("sqlite", { LOGIN_FAILURES_BEFORE_BACKOFF: "3" });
    const { input } = await registerUser(env);
    const trace = async (login: string) => {
      const answers = [];
      for (let i = 0; i < 5; i++) {
        const r = await fromIp("198.51.100.20", "/login", { email: login, password: "wrong password here" });
        answers.push([r.status, r.headers.get("retry-after")]);
      }
      return answers;
    };
    const known = await trace(input.email);
    expect(known.map(([status]) => status)).toEqual([401, 401, 401, 429, 429]);
    expect(await trace("nobody-here@example.com")).toEqual(known);
  });

  test("guessing spread over many clients locks the account for new clients, never for one it signed in from before", async () => {
    env = await createTestEnv("sqlite", { LOGIN_FAILURES_BEFORE_BACKOFF: "1" });
    const { input } = await registerUser(env);
    expect((await fromIp("192.0.2.44", "/login", { email: input.email, password: input.password })).status).toBe(200); // the owner's home
    // 10 failures (10 times the per-client free failures), each from a different address.
    for (let i = 0; i < 10; i++) expect((await fromIp(`198.18.0.${i + 1}`, "/login", { email: input.email, password: `botnet guess ${i}` })).status).toBe(401);
    await expectError(await fromIp("198.18.1.1", "/login", { email: input.email, password: input.password }), 429, "rate_limited");
    expect((await fromIp("192.0.2.44", "/login", { email: input.email, password: input.password })).status).toBe(200);
  });
});

describe("verification mails share the address's hourly budget", () => {
  test("resend mails a new pair of links (the old ones die) within the budget; a registration past it is created but mails nothing", async () => {
    env = await createTestEnv("sqlite", { RATE_LIMIT_MAIL_PER_HOUR: "2" });
    const { input, auth } = await registerUser(env);
    const first = await linkToken(env, input.email, "/verify-email");
    expect(await expectOk(await post("/resend-verification", {}, auth.token))).toEqual({ ok: true });
    const second = await linkToken(env, input.email, "/verify-email");
    expect(second).not.toBe(first);
    expect(await linkToken(env, input.email, "/not-my-account")).toBeTruthy();
    await expectError(await post("/verify-email", { token: first, password: input.password }), 400, "invalid_token");
    await expectError(await post("/resend-verification", {}, auth.token), 429, "rate_limited"); // 2 mails this hour
    expect(await mailTo(env, input.email)).toHaveLength(2);
    await expectOk(await post("/verify-email", { token: second, password: input.password }));

    // Two reset requests spend the budget of an address without an account; registering it then mails nothing.
    const late = "late@example.com";
    for (let i = 0; i < 2; i++) expect((await post("/forgot-password", { email: late })).status).toBe(202);
    expect((await post("/register", newUserInput({ email: late }))).status).toBe(201);
    expect(await mailTo(env, late)).toHaveLength(0);
  });
});

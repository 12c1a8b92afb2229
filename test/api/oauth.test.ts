// Google and Discord sign-in, account linking rules L1–L9, and the plugin's polled sign-in. A real OAuth 2 server
// (oauth2-mock-server) stands in for each provider; the tests drive the flows like a browser: start route → 302 to
// the provider → its redirect back with code and state → callback (with the flow cookie) → confirmation form.
// Every scenario runs on a fresh database, on bun:sqlite and on a real sqld where it touches the database.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { identities, users } from "../../src/db/schema.ts";
import { expectError, expectOk, json, linkToken, mailTo, newUserInput, registerUser } from "../support/auth.ts";
import { Browser as PageBrowser, csrfOf } from "../support/browser.ts";
import { createTestEnv, DRIVERS, type Driver, type TestEnv } from "../support/deps.ts";
import { Browser, newSessionId, startMockProvider, type MockProvider } from "../support/oauth.ts";
import { REDIRECT_CASES, staysOnServer } from "../support/redirects.ts";

let google: MockProvider;
let discord: MockProvider;
let env: TestEnv;

beforeAll(async () => {
  google = await startMockProvider();
  discord = await startMockProvider();
});
afterAll(async () => {
  await google.stop();
  await discord.stop();
});
beforeEach(() => {
  google.calls.token = google.calls.userinfo = 0;
  discord.calls.token = discord.calls.userinfo = 0;
});
afterEach(() => env?.close());

const fresh = (driver: Driver = "sqlite", extra: Record<string, string> = {}) =>
  createTestEnv(driver, { ...google.env("GOOGLE"), ...discord.env("DISCORD"), ...extra });
const post = (path: string, body?: unknown, token?: string) => env.request(`/api/v1/auth${path}`, { method: "POST", json: body ?? {}, token });
const get = (path: string, token?: string) => env.request(`/api/v1/auth${path}`, { token });
const del = (path: string, token?: string) => env.request(`/api/v1/auth${path}`, { method: "DELETE", token });
const mocks = () => ({ google, discord });

type Provider = "google" | "discord";
const googleUser = (sub: string, email: string | null, verified = true, name = "Night Beats") => ({
  sub,
  ...(email ? { email } : {}),
  email_verified: verified,
  name,
});
const discordUser = (id: string, email: string | null, verified = true, username = "loopsmith") => ({ id, ...(email ? { email } : {}), verified, username });

/** The web flow: start with redirect_to, through the provider, back to redirect_to, then the one-time exchange. */
async function webSignIn(provider: Provider, user: Record<string, unknown>, redirectTo = "/feed") {
  mocks()[provider].user = user;
  const b = new Browser(env);
  const callbackUrl = await b.throughProvider(await b.app(`/api/v1/auth/${provider}?redirect_to=${encodeURIComponent(redirectTo)}`));
  const back = await b.app(callbackUrl);
  if (back.status !== 302) return { ok: false as const, status: back.status, page: await back.text() };
  expect(back.headers.get("location")).toBe(redirectTo);
  expect(back.headers.get("location")).not.toContain("token"); // nothing secret in the URL
  const exchanged = await b.app("/api/v1/auth/oauth/exchange", { method: "POST" });
  expect(exchanged.status).toBe(200);
  const body = await json(exchanged);
  expect("error" in body).toBe(false);
  // the result is single use
  expect((await b.app("/api/v1/auth/oauth/exchange", { method: "POST" })).status).toBe(400);
  return { ok: true as const, auth: body.auth as { token: string; refresh_token: string; expires_at: string; user: Record<string, any> } };
}

async function signedIn(provider: Provider, user: Record<string, unknown>) {
  const r = await webSignIn(provider, user);
  if (!r.ok) throw new Error(`sign-in refused (${r.status}): ${r.page.slice(-400)}`);
  return r.auth;
}

/** A native account whose email is verified, and a fresh session for it. */
async function verifiedUser(overrides: Parameters<typeof newUserInput>[0] = {}) {
  const { input } = await registerUser(env, overrides);
  const token = await linkToken(env, input.email, "/verify-email");
  expect((await post("/verify-email", { token, password: input.password })).status).toBe(200);
  const auth = (await json(await post("/login", { email: input.email, password: input.password }))).auth;
  return { input, auth };
}

/**
 * Signs the browser in on the /signin page (the browser session a link flow needs); with `next`, as the sign-in
 * page a link URL sent it to, and answers where the page sends it afterwards.
 */
async function signInBrowser(b: Browser, input: { email: string; password: string }, next?: string) {
  const form = await (await b.app(next ? `/signin?next=${encodeURIComponent(next)}` : "/signin")).text();
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(form)?.[1]?.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)));
  const body = new URLSearchParams({ csrf: field("csrf") ?? "", login: input.email, password: input.password, ...(next ? { next: field("next") ?? "" } : {}) });
  const res = await b.app("/signin", { method: "POST", body, headers: { "content-type": "application/x-www-form-urlencoded" } });
  expect(res.status).toBe(303);
  return res.headers.get("location")!;
}

const userRow = async (id: string) => (await env.deps.database.db.select().from(users).where(eq(users.id, id)))[0]!;
const identityRows = (userId: string) => env.deps.database.db.select().from(identities).where(eq(identities.userId, userId));

for (const driver of DRIVERS) {
  describe(`Google and Discord sign-in on ${driver}`, () => {
    test("Google-only user; someone registers with the same email and a password → 409, nothing changed; the owner's set-password link works once", async () => {
      env = await fresh(driver);
      const email = "night@example.com";
      const g = await signedIn("google", googleUser("g-100", email));
      expect(g.user).toMatchObject({ email, email_verified: true, has_password: false, linked_providers: ["google"] });
      const before = await userRow(g.user.id);

      const attempt = await post("/register", newUserInput({ email, password: "attacker chosen password" }));
      expect(attempt.status).toBe(409);
      expect((await json(attempt)).error).toBe("email_taken");
      expect(await userRow(g.user.id)).toEqual(before); // nothing changed
      expect((await post("/login", { email, password: "attacker chosen password" })).status).toBe(401);
      expect((await get("/me", g.token)).status).toBe(200);

      const mails = await mailTo(env, email);
      expect(mails[0]!.subject).toContain("tried to create");
      const token = await linkToken(env, email, "/set-password");
      expect(await json(await post("/set-password", { token, password: "my own long passphrase" }))).toEqual({ ok: true });
      expect((await post("/login", { email, password: "my own long passphrase" })).status).toBe(200);
      expect((await post("/set-password", { token, password: "another long passphrase" })).status).toBe(400);
      // Google still signs in to the same account
      expect((await signedIn("google", googleUser("g-100", email))).user.id).toBe(g.user.id);
    });

    test("a native verified user signs in with Google (verified email) → linked, owner mailed; both ways work afterwards", async () => {
      env = await fresh(driver);
      const { input, auth } = await verifiedUser();
      const g = await signedIn("google", googleUser("g-200", input.email.toUpperCase()));
      expect(g.user.id).toBe(auth.user.id);
      expect(g.user.linked_providers).toEqual(["google"]);
      expect(g.user.has_password).toBe(true);
      expect((await mailTo(env, input.email)).some((m) => m.subject.includes("Google was linked to your account"))).toBe(true);
      // L7: linking ended the earlier sessions
      expect((await get("/me", auth.token)).status).toBe(401);
      // both ways work
      expect((await post("/login", { email: input.email, password: input.password })).status).toBe(200);
      expect((await signedIn("google", googleUser("g-200", input.email))).user.id).toBe(auth.user.id);
      expect((await get("/me", g.token)).status).toBe(200);
    });

    test("an attacker's UNVERIFIED account with the victim's email; the victim signs in with Google → password removed, attacker signed out, account verified", async () => {
      env = await fresh(driver);
      const victim = "victim@example.com";
      const { input: attacker, auth: attackerAuth } = await registerUser(env, { email: victim, password: "attacker password 123" });
      const attackerVerifyToken = await linkToken(env, victim, "/verify-email");
      const attackerLogin = (await json(await post("/login", { email: victim, password: attacker.password }))).auth;

      const g = await signedIn("google", googleUser("g-300", victim));
      expect(g.user.id).toBe(attackerAuth.user.id); // the provider sign-in wins the account
      expect(g.user).toMatchObject({ email_verified: true, has_password: false, linked_providers: ["google"] });
      const row = await userRow(g.user.id);
      expect(row.passwordHash).toBeNull();
      expect(row.emailVerified).toBe(true);

      for (const a of [attackerAuth, attackerLogin]) {
        expect((await get("/me", a.token)).status).toBe(401);
        expect((await post("/refresh", { refresh_token: a.refresh_token })).status).toBe(401);
      }
      expect((await post("/login", { email: victim, password: attacker.password })).status).toBe(401);
      expect((await post("/verify-email", { token: attackerVerifyToken })).status).toBe(400); // pending tokens died
      expect((await get("/me", g.token)).status).toBe(200);
    });

    test("Discord with verified:false and a victim's email → never attached to the victim's account", async () => {
      env = await fresh(driver);
      const { input: verifiedVictim, auth: victimAuth } = await verifiedUser();
      const d = await signedIn("discord", discordUser("d-400", verifiedVictim.email, false, "sneaky"));
      expect(d.user.id).not.toBe(victimAuth.user.id);
      expect(d.user).toMatchObject({ email: "", email_verified: false, has_password: false, linked_providers: ["discord"] });
      expect(await identityRows(victimAuth.user.id)).toHaveLength(0);
      expect((await get("/me", victimAuth.token)).status).toBe(200);

      // An unverified local account is not taken over by an unverified provider email either (L4 needs L2).
      const { input: other, auth: otherAuth } = await registerUser(env);
      const d2 = await signedIn("discord", discordUser("d-401", other.email, false, "sneaky2"));
      expect(d2.user.id).not.toBe(otherAuth.user.id);
      expect((await post("/login", { email: other.email, password: other.password })).status).toBe(200);
      expect((await userRow(otherAuth.user.id)).passwordHash).not.toBeNull();
    });

    test("provider email changes for the same sub → same account", async () => {
      env = await fresh(driver);
      const first = await signedIn("google", googleUser("g-500", "old@example.com"));
      const again = await signedIn("google", googleUser("g-500", "new@example.com"));
      expect(again.user.id).toBe(first.user.id);
      expect(again.user.email).toBe("old@example.com"); // the account's email is not rewritten by the provider
      const unverified = await signedIn("google", googleUser("g-500", "someone-else@example.com", false));
      expect(unverified.user.id).toBe(first.user.id);
      expect((await env.deps.database.db.select().from(users)).length).toBe(1);
    });

    test("an attacker links Discord to an unverified account → refused", async () => {
      env = await fresh(driver);
      const { auth } = await registerUser(env);
      const r = await post("/discord/link-start", {}, auth.token);
      expect(r.status).toBe(403);
      expect((await json(r)).error).toBe("email_not_verified");
      // no ticket, no link: the start route refuses link=1 on its own
      const direct = await new Browser(env).app("/api/v1/auth/discord?link=1");
      expect(direct.status).toBe(401);
      expect(discord.calls).toEqual({ token: 0, userinfo: 0 });
      expect(await identityRows(auth.user.id)).toHaveLength(0);
    });

    test("unlinking the last sign-in method → refused; with a password it works, after a recent sign-in", async () => {
      env = await fresh(driver);
      const g = await signedIn("google", googleUser("g-600", "solo@example.com"));
      const last = await del("/identities/google", g.token);
      expect(last.status).toBe(409);
      expect((await json(last)).error).toBe("last_sign_in_method");
      expect((await post("/identities/google/unlink", {}, g.token)).status).toBe(409);
      expect(await json(await get("/identities", g.token))).toEqual([{ provider: "google", email: "solo@example.com", linked_at: expect.any(String) }]);

      // add a password (recent sign-in), then unlinking is allowed, but only within 10 minutes of signing in
      expect(await json(await post("/change-password", { new_password: "a password of my own" }, g.token))).toEqual({ ok: true });
      env.clock.advance(11 * 60_000);
      const stale = await del("/identities/google", g.token);
      expect(stale.status).toBe(403);
      expect((await json(stale)).error).toBe("reauthentication_required");
      const fresher = (await json(await post("/login", { email: "solo@example.com", password: "a password of my own" }))).auth;
      expect(await json(await del("/identities/google", fresher.token))).toEqual({ ok: true });
      expect(await json(await get("/identities", fresher.token))).toEqual([]);
      expect((await get("/me", g.token)).status).toBe(401); // L7: other sessions end
      expect((await mailTo(env, "solo@example.com")).some((m) => m.subject.includes("Google was unlinked"))).toBe(true);
      expect((await del("/identities/google", fresher.token)).status).toBe(404);
    });

    test("link=1: a verified, recently signed-in account links Discord; other sessions end; the owner is mailed; the ticket is single use", async () => {
      env = await fresh(driver);
      const { input, auth } = await verifiedUser();
      const other = (await json(await post("/login", { email: input.email, password: input.password }))).auth;
      const started = await json(await post("/discord/link-start", {}, auth.token));
      expect(started.url.startsWith(`${env.deps.config.PUBLIC_URL}/api/v1/auth/discord?link=1&ticket=`)).toBe(true);

      discord.user = discordUser("d-700", "Other.Address@example.com", true, "linker");
      const b = new Browser(env);
      await signInBrowser(b, input); // the link completes only in a browser signed in to this account
      const page = await b.app(await b.throughProvider(await b.app(started.url)));
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("Discord is linked");
      expect(await json(await get("/identities", auth.token))).toEqual([
        { provider: "discord", email: "other.address@example.com", linked_at: expect.any(String) },
      ]);
      expect((await json(await get("/me", auth.token))).email).toBe(input.email); // the account's email is unchanged
      expect((await get("/me", other.token)).status).toBe(401);
      expect((await mailTo(env, input.email)).some((m) => m.subject.includes("Discord was linked to your account"))).toBe(true);
      // the same URL again links nothing (linking signed the browser out with the other sessions: sign in again)
      const again = new Browser(env);
      await signInBrowser(again, input);
      expect((await again.app(started.url)).status).toBe(401);
      // Discord now signs in to this account
      expect((await signedIn("discord", discordUser("d-700", "whatever@example.com"))).user.id).toBe(auth.user.id);

      // the same Discord account cannot be linked to a second Sidechain account
      const second = await verifiedUser();
      const url2 = (await json(await post("/discord/link-start", {}, second.auth.token))).url;
      const b2 = new Browser(env);
      await signInBrowser(b2, second.input);
      const refused = await b2.app(await b2.throughProvider(await b2.app(url2)));
      expect(refused.status).toBe(409);
      expect(await refused.text()).toContain("already linked to another Sidechain account");
      expect(await identityRows(second.auth.user.id)).toHaveLength(0);
    });

    test("link=1 needs a recent sign-in, and the flow is bound to the session that started it", async () => {
      env = await fresh(driver);
      const { auth } = await verifiedUser();
      env.clock.advance(11 * 60_000);
      const stale = await post("/google/link-start", {}, auth.token);
      expect(stale.status).toBe(403);
      expect((await json(stale)).error).toBe("reauthentication_required");

      const { input: u2, auth: a2 } = await verifiedUser();
      const url = (await json(await post("/google/link-start", {}, a2.token))).url;
      google.user = googleUser("g-800", "linked@example.com");
      const b = new Browser(env);
      await signInBrowser(b, u2);
      const callbackUrl = await b.throughProvider(await b.app(url));
      await post("/logout", {}, a2.token); // the session that started linking ends before the callback
      const page = await b.app(callbackUrl);
      expect(page.status).toBe(401);
      expect(await identityRows(a2.user.id)).toHaveLength(0);
    });

    test("plugin polling flow end to end: start URL → provider → confirmation page → poll returns complete once, then not_found; expired after 5 minutes", async () => {
      env = await fresh(driver);
      const sid = newSessionId();
      // the plugin polls before the browser reaches the server: pending
      expect(await json(await get(`/oauth/poll?session_id=${sid}`))).toEqual({ status: "pending" });

      google.user = googleUser("g-900", "plugin@example.com", true, "Plugin Person");
      const b = new Browser(env);
      const start = await b.app(`/api/v1/auth/google?session_id=${sid}`);
      const cookie = start.headers.getSetCookie().find((c) => c.startsWith("sc_oauth_google="))!;
      expect(cookie).toContain("HttpOnly");
      expect(cookie).toContain("SameSite=Lax");
      expect(cookie).toContain("Max-Age=600");
      const location = new URL(start.headers.get("location")!);
      expect(location.searchParams.get("code_challenge_method")).toBe("S256");
      expect(location.searchParams.get("scope")).toBe("openid email profile");
      expect(location.searchParams.get("redirect_uri")).toBe(`${env.deps.config.PUBLIC_URL}/api/v1/auth/google/callback`);
      expect(Buffer.from(location.searchParams.get("state")!, "base64url").length).toBeGreaterThanOrEqual(16);

      const page = await b.app(await b.throughProvider(start));
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain("Sign in to the Sidechain plugin as plugin_person?");
      // not approved until the person confirms
      expect(await json(await get(`/oauth/poll?session_id=${sid}`))).toEqual({ status: "pending" });

      const done = await b.confirm(html);
      expect(done.status).toBe(200);
      const doneHtml = await done.text();
      expect(doneHtml).toContain("Signed in to the Sidechain plugin");
      expect(doneHtml).toContain("you can close this tab".replace("you", "You"));

      const poll = await get(`/oauth/poll?session_id=${sid}`);
      expect(poll.status).toBe(200);
      const complete = await json(poll);
      expect(complete.status).toBe("complete");
      expect(Object.keys(complete.auth).sort()).toEqual(["expires_at", "refresh_token", "token", "user"]);
      expect(complete.auth.user.username).toBe("plugin_person");
      expect((await get("/me", complete.auth.token)).status).toBe(200);
      expect(await json(await get(`/oauth/poll?session_id=${sid}`))).toEqual({ status: "not_found" });
      // the confirmation cannot be replayed, and the session id cannot be started again
      expect((await b.confirm(html)).status).toBe(400);
      const reuse = await new Browser(env).app(`/api/v1/auth/google?session_id=${sid}`);
      expect(reuse.status).toBe(409);
      expect((await json(reuse)).error).toBe("session_id_used");

      // expiry: a session id not completed within 5 minutes
      const late = newSessionId();
      const b2 = new Browser(env);
      const lateCallback = await b2.throughProvider(await b2.app(`/api/v1/auth/google?session_id=${late}`));
      env.clock.advance(5 * 60_000 + 1000);
      expect(await json(await get(`/oauth/poll?session_id=${late}`))).toEqual({ status: "expired" });
      const latePage = await b2.app(lateCallback);
      expect(latePage.status).toBe(400);
      expect(await latePage.text()).toContain("expired");
      expect(await json(await get(`/oauth/poll?session_id=${late}`))).toEqual({ status: "expired" });
    });
  });
}

describe("link-flow CSRF: a link completes only in a browser signed in to the account that started it", () => {
  test("someone else's browser is sent to sign in (ticket unspent) or refused; the owner's browser completes the same URL", async () => {
    env = await fresh();
    const owner = await verifiedUser();
    const someone = await verifiedUser();
    const url = (await json(await post("/google/link-start", {}, owner.auth.token))).url;
    const start = new URL(url);
    const startPath = `${start.pathname}${start.search}`;
    google.user = googleUser("g-csrf", "someone.else@example.com");

    // the URL opened by someone else who is signed in to their own account: refused, nothing sent to Google
    const theirs = new Browser(env);
    await signInBrowser(theirs, someone.input);
    const refused = await theirs.app(url);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain(`signed in as @${someone.input.username}`);
    expect(theirs.cookies.has("sc_oauth_google")).toBe(false);

    // a browser not signed in: sent to the sign-in page, coming back to the same URL; nothing sent to Google
    const anon = new Browser(env);
    const toSignIn = await anon.app(url);
    expect(toSignIn.status).toBe(303);
    expect(toSignIn.headers.get("location")).toBe(`/signin?next=${encodeURIComponent(startPath)}`);
    expect(anon.cookies.has("sc_oauth_google")).toBe(false);
    expect(google.calls).toEqual({ token: 0, userinfo: 0 });
    expect(await identityRows(owner.auth.user.id)).toHaveLength(0);

    // only the owner can sign in there: then the same (unspent) URL links their account
    const back = await signInBrowser(anon, owner.input, startPath);
    expect(back).toBe(startPath);
    const page = await anon.app(await anon.throughProvider(await anon.app(back)));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Google is linked");
    expect((await identityRows(owner.auth.user.id)).map((i) => i.providerUserId)).toEqual(["g-csrf"]);
    expect(await identityRows(someone.auth.user.id)).toHaveLength(0);
  });

  test("a Google-only account (no password) links Discord: the sign-in page offers Google, whose web sign-in gives the browser its session", async () => {
    env = await fresh();
    const gUser = googleUser("g-only", "g.only@example.com");
    const auth = await signedIn("google", gUser); // the app's session, fresh (L6)
    const url = (await json(await post("/discord/link-start", {}, auth.token))).url;
    const start = new URL(url);
    const startPath = `${start.pathname}${start.search}`;
    const b = new Browser(env);
    const toSignIn = await b.app(url);
    expect(toSignIn.headers.get("location")).toBe(`/signin?next=${encodeURIComponent(startPath)}`);
    const signInPage = await (await b.app(toSignIn.headers.get("location")!)).text();
    const href = /href="(\/api\/v1\/auth\/google\?redirect_to=[^"]+)"/.exec(signInPage)?.[1]?.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)));
    expect(href).toBe(`/api/v1/auth/google?redirect_to=${encodeURIComponent(startPath)}`);
    expect(signInPage).toContain("Continue with Discord");
    google.user = gUser;
    const back = await b.app(await b.throughProvider(await b.app(href!)));
    expect(back.status).toBe(302);
    expect(back.headers.get("location")).toBe(startPath);
    expect(b.cookies.has("sc_session")).toBe(true);
    discord.user = discordUser("d-for-g-only", "g.only@example.com");
    const page = await b.app(await b.throughProvider(await b.app(startPath)));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Discord is linked");
    expect((await identityRows(auth.user.id)).map((i) => i.provider).sort()).toEqual(["discord", "google"]);
  });

  test("a browser that changes account between the start and the callback links nothing", async () => {
    env = await fresh();
    const owner = await verifiedUser();
    const someone = await verifiedUser();
    const url = (await json(await post("/discord/link-start", {}, owner.auth.token))).url;
    discord.user = discordUser("d-csrf", "switch@example.com", true, "switcher");
    const b = new Browser(env);
    await signInBrowser(b, owner.input);
    const callbackUrl = await b.throughProvider(await b.app(url));
    await signInBrowser(b, someone.input); // the sign-in page replaces the browser's session
    const page = await b.app(callbackUrl);
    expect(page.status).toBe(403);
    expect(await page.text()).toContain("no longer signed in to the account that started linking");
    expect(discord.calls.token).toBe(0); // refused before the code reached Discord
    expect(await identityRows(owner.auth.user.id)).toHaveLength(0);
    expect(await identityRows(someone.auth.user.id)).toHaveLength(0);
  });
});

describe("OAuth flow checks", () => {
  test("OAuth callback with missing or wrong state → refused before any request reaches the provider", async () => {
    env = await fresh();
    google.user = googleUser("g-1000", "state@example.com");
    const b = new Browser(env);
    const callbackUrl = await b.throughProvider(await b.app("/api/v1/auth/google?redirect_to=/feed"));
    const url = new URL(callbackUrl);
    const path = (mutate: (u: URL) => void) => {
      const u = new URL(url);
      mutate(u);
      return `${u.pathname}${u.search}`;
    };

    const noCookie = await new Browser(env).app(callbackUrl);
    expect(noCookie.status).toBe(400);
    expect(await noCookie.text()).toContain("not started in this browser");

    const jar = new Map(b.cookies);
    const wrong = await b.app(path((u) => u.searchParams.set("state", "x".repeat(43))));
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain("does not match");
    b.cookies = new Map(jar); // the refusal cleared the cookie; a real browser would have to start again
    const missing = await b.app(path((u) => u.searchParams.delete("state")));
    expect(missing.status).toBe(400);
    b.cookies = new Map(jar);
    const forged = new Browser(env);
    forged.cookies.set("sc_oauth_google", "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAA.BBBB.CCCC");
    expect((await forged.app(callbackUrl)).status).toBe(400);

    expect(google.calls).toEqual({ token: 0, userinfo: 0 });
    // the right browser with the right state completes
    const ok = await b.app(callbackUrl);
    expect(ok.status).toBe(302);
    expect(google.calls).toEqual({ token: 1, userinfo: 1 });
  });

  test("redirect_to must be a relative path on this server: absolute URLs, //host and backslashes are refused", async () => {
    env = await fresh();
    for (const bad of [
      "https://evil.example/feed",
      "//evil.example/feed",
      "/\\evil.example",
      "\\\\evil.example",
      "javascript:alert(1)",
      "feed",
      "/feed\r\nx",
    ]) {
      const res = await new Browser(env).app(`/api/v1/auth/google?redirect_to=${encodeURIComponent(bad)}`);
      expect({ bad, status: res.status }).toEqual({ bad, status: 400 });
      const body = await json(res);
      expect(body.error).toBe("validation_error");
      expect(Object.keys(body.fields)).toEqual(["redirect_to"]);
      expect(res.headers.getSetCookie()).toEqual([]);
    }
    const good = await new Browser(env).app(`/api/v1/auth/google?redirect_to=${encodeURIComponent("/feed?tab=new")}`);
    expect(good.status).toBe(302);
    // only one flow at a time
    expect((await new Browser(env).app(`/api/v1/auth/google?redirect_to=/feed&session_id=${newSessionId()}`)).status).toBe(400);
    expect((await new Browser(env).app("/api/v1/auth/google?session_id=not-hex")).status).toBe(400);
  });

  test("redirect_to: every payload is refused at the start or lands on its normalised path on this server", async () => {
    env = await fresh("sqlite", { RATE_LIMIT_AUTH_PER_MIN: "1000" });
    google.user = googleUser("g-redirect", "redirect@example.com");
    for (const [target, expected] of REDIRECT_CASES) {
      const b = new Browser(env);
      const start = await b.app(`/api/v1/auth/google?redirect_to=${encodeURIComponent(target)}`);
      if (expected === null) {
        expect({ target, status: start.status }).toEqual({ target, status: 400 });
        expect((await json(start)).error).toBe("validation_error");
        expect(start.headers.getSetCookie()).toEqual([]);
        continue;
      }
      const back = await b.app(await b.throughProvider(start));
      expect({ target, status: back.status, location: back.headers.get("location") }).toEqual({ target, status: 302, location: expected });
      expect(staysOnServer(back.headers.get("location"))).toBe(true);
    }
  });

  test("a provider that is not configured → 404 provider_disabled", async () => {
    env = await createTestEnv("sqlite", google.env("GOOGLE"));
    const res = await new Browser(env).app(`/api/v1/auth/discord?session_id=${newSessionId()}`);
    expect(res.status).toBe(404);
    expect(await json(res)).toEqual({ error: "provider_disabled", message: expect.any(String) });
    expect((await new Browser(env).app("/api/v1/auth/discord/callback?code=x&state=y")).status).toBe(404);
    const { auth } = await registerUser(env);
    expect((await json(await post("/discord/link-start", {}, auth.token))).error).toBe("provider_disabled");
    expect((await new Browser(env).app("/api/v1/auth/google")).status).toBe(302);
  });

  test("cancelled at the provider, a refused code, or Cancel on the confirmation page → an error page, and the plugin's poll says error with a message", async () => {
    env = await fresh();
    // the person cancels at Discord
    const sid = newSessionId();
    const b = new Browser(env);
    const start = await b.app(`/api/v1/auth/discord?session_id=${sid}`);
    const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
    const denied = await b.app(`/api/v1/auth/discord/callback?error=access_denied&state=${encodeURIComponent(state)}`);
    expect(denied.status).toBe(400);
    expect(await denied.text()).toContain("You cancelled the sign-in at Discord");
    const polled = await json(await get(`/oauth/poll?session_id=${sid}`));
    expect(polled).toEqual({ status: "error", message: "You cancelled the sign-in at Discord." });
    expect(discord.calls).toEqual({ token: 0, userinfo: 0 });

    // the provider refuses the code
    const sid2 = newSessionId();
    const b2 = new Browser(env);
    const cb2 = await b2.throughProvider(await b2.app(`/api/v1/auth/google?session_id=${sid2}`));
    google.refuseNextCode();
    const refused = await b2.app(cb2);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("did not accept the sign-in");
    const p2 = await json(await get(`/oauth/poll?session_id=${sid2}`));
    expect(p2.status).toBe("error");
    expect(p2.message).toContain("did not accept");
    expect("error" in p2).toBe(false);

    // Cancel on the confirmation page
    const sid3 = newSessionId();
    google.user = googleUser("g-1100", "cancel@example.com");
    const b3 = new Browser(env);
    const page = await (await b3.app(await b3.throughProvider(await b3.app(`/api/v1/auth/google?session_id=${sid3}`)))).text();
    const cancelled = await b3.confirm(page, "deny");
    expect(await cancelled.text()).toContain("Sign-in cancelled");
    expect(await json(await get(`/oauth/poll?session_id=${sid3}`))).toEqual({ status: "error", message: "The sign-in was cancelled in the browser" });

    // a confirmation form posted without its CSRF cookie is refused
    const sid4 = newSessionId();
    const b4 = new Browser(env);
    const page4 = await (await b4.app(await b4.throughProvider(await b4.app(`/api/v1/auth/google?session_id=${sid4}`)))).text();
    b4.cookies.delete("sc_csrf");
    expect((await b4.confirm(page4)).status).toBe(400);
    expect(await json(await get(`/oauth/poll?session_id=${sid4}`))).toEqual({ status: "pending" });
  });

  test("malformed flow, result and CSRF cookies are simply absent: the flow's own refusals, never a 500", async () => {
    env = await fresh();
    for (const value of ["%E0%A4%A", "%", "a%00b", '"x"', "x".repeat(9000)]) {
      const cookie = `sc_oauth_google=${value}; sc_oauth_result=${value}; sc_csrf=${value}; sc_session=${value}`;
      const callback = await env.request("/api/v1/auth/google/callback?code=x&state=y", { headers: { cookie } });
      expect(callback.status).toBe(400);
      expect(await callback.text()).toContain("not started in this browser");
      const exchange = await env.request("/api/v1/auth/oauth/exchange", { method: "POST", headers: { cookie } });
      expect(exchange.status).toBe(400);
      expect((await json(exchange)).error).toBe("invalid_code");
      const confirm = await env.request("/api/v1/auth/oauth/confirm", {
        method: "POST",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ csrf: "x".repeat(43), ticket: "x", decision: "approve" }).toString(),
      });
      expect(confirm.status).toBe(400);
      expect(await confirm.text()).toContain("This form has expired");
      const link = await env.request("/api/v1/auth/google?link=1&ticket=x", { headers: { cookie } });
      expect(link.status).toBe(401);
    }
  });

  test("OAuth starts and polling are rate limited per IP with Retry-After", async () => {
    env = await fresh("sqlite", { RATE_LIMIT_AUTH_PER_MIN: "2" });
    const b = new Browser(env);
    expect((await b.app("/api/v1/auth/google")).status).toBe(302);
    expect((await b.app("/api/v1/auth/google")).status).toBe(302);
    const limited = await b.app("/api/v1/auth/google");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    const sid = newSessionId();
    for (let i = 0; i < 8; i++) expect((await get(`/oauth/poll?session_id=${sid}`)).status).toBe(200);
    expect((await get(`/oauth/poll?session_id=${sid}`)).status).toBe(429);
  });
});

describe("pre-hijacking through the verification mail", () => {
  // An attacker registers the victim's address with his own password. The victim gets the verification mail.
  const victim = "prehijack-victim@example.com";
  const attackerPassword = "attacker chosen passphrase";

  async function attackerRegisters() {
    const { input, auth } = await registerUser(env, { email: victim, password: attackerPassword, username: "notthevictim" });
    return { input, auth, verify: await linkToken(env, victim, "/verify-email"), disown: await linkToken(env, victim, "/not-my-account") };
  }
  const attackerGetsIn = async (auth: { token: string; refresh_token: string }) => ({
    byEmail: (await post("/login", { email: victim, password: attackerPassword })).status,
    byUsername: (await post("/login", { email: "notthevictim", password: attackerPassword })).status,
    token: (await get("/me", auth.token)).status,
    refresh: (await post("/refresh", { refresh_token: auth.refresh_token })).status,
  });

  test("the victim clicks 'Confirm my email': it needs the attacker's password, so the address is never confirmed for him", async () => {
    env = await fresh();
    const { auth, verify } = await attackerRegisters();
    const browser = new PageBrowser(env);
    const page = await browser.get(`/verify-email?token=${encodeURIComponent(verify)}`);
    expect(page.html).toContain("Did not create this account?");
    // The victim does not know the password: whatever is typed, the address stays unconfirmed.
    for (const password of ["", "my own password maybe"]) expect((await browser.submit(page, { password })).status).toBeGreaterThanOrEqual(400);
    await expectError(await post("/verify-email", { token: verify }), 400, "validation_error");
    expect((await userRow(auth.user.id)).emailVerified).toBe(false);

    // The victim later signs in with Google: L4 takes the unconfirmed account from the attacker (password gone).
    const g = await signedIn("google", googleUser("g-ph-1", victim));
    expect((await userRow(g.user.id)).passwordHash).toBeNull();
    expect(await attackerGetsIn(auth)).toEqual({ byEmail: 401, byUsername: 401, token: 401, refresh: 401 });
  });

  test("the victim clicks 'This was not me': the GET changes nothing, the POST takes the address and the password away; Google then gives the victim a separate account", async () => {
    env = await fresh();
    const { auth, disown } = await attackerRegisters();
    const browser = new PageBrowser(env);
    const page = await browser.get(`/not-my-account?token=${encodeURIComponent(disown)}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain("@notthevictim");
    // A mail scanner's prefetch (the GET, twice) changes nothing.
    await browser.get(`/not-my-account?token=${encodeURIComponent(disown)}`);
    expect((await post("/login", { email: victim, password: attackerPassword })).status).toBe(200);
    // A POST without the page's CSRF pair changes nothing either.
    expect((await new PageBrowser(env).post("/not-my-account", { token: disown, csrf: csrfOf(page) })).status).toBe(403);
    expect((await userRow(auth.user.id)).email).toBe(victim);

    const done = await browser.submit(page);
    expect(done.status).toBe(200);
    expect(done.html).toContain("Your address was removed");
    const row = await userRow(auth.user.id);
    expect({ email: row.email, verified: row.emailVerified, password: row.passwordHash }).toEqual({ email: null, verified: false, password: null });
    expect(await attackerGetsIn(auth)).toEqual({ byEmail: 401, byUsername: 401, token: 401, refresh: 401 });
    // The link is spent; the verification link died with it.
    expect((await browser.submit(page)).status).toBe(400);
    expect((await browser.get(`/not-my-account?token=${encodeURIComponent(disown)}`)).status).toBe(400);

    // The victim's Google sign-in makes the victim's own account: nothing of the attacker's is joined to it.
    const g = await signedIn("google", googleUser("g-ph-2", victim));
    expect(g.user.id).not.toBe(auth.user.id);
    expect(g.user).toMatchObject({ email: victim, email_verified: true, has_password: false, linked_providers: ["google"] });
    expect(await identityRows(auth.user.id)).toHaveLength(0);
    expect(await attackerGetsIn(auth)).toEqual({ byEmail: 401, byUsername: 401, token: 401, refresh: 401 });
  });

  test("'This was not me' no longer works once the password holder confirmed the address (the account is then theirs)", async () => {
    env = await fresh();
    const { input, disown, verify } = await attackerRegisters();
    await expectOk(await post("/verify-email", { token: verify, password: input.password }));
    const browser = new PageBrowser(env);
    expect((await browser.get(`/not-my-account?token=${encodeURIComponent(disown)}`)).status).toBe(400);
    expect((await post("/login", { email: victim, password: attackerPassword })).status).toBe(200);
  });
});

describe("provider sign-ups and the text rules", () => {
  test("a provider's name is cleaned (never refused) and never yields a reserved username", async () => {
    env = await fresh();
    const g = await signedIn("google", googleUser("g-text-1", "admin@example.com", true, "\u202EAdmin\u200B"));
    expect(g.user.display_name).toBe("Admin");
    expect(g.user.username).toBe("producer");
    const d = await signedIn("discord", discordUser("d-text-1", "support@example.com", true, "Support"));
    expect(d.user.username).toMatch(/^producer_\d{4}$/); // "support" (name and email) is reserved, "producer" taken
    expect(d.user.display_name).toBe("Support");
    const ok = await signedIn("google", googleUser("g-text-2", "night@example.com", true, "Night\u2066 Beats 👩‍💻"));
    expect(ok.user).toMatchObject({ username: "night_beats", display_name: "Night Beats 👩‍💻" });
  });
});

describe("roles and the community's sign-up mode (docs/security.md, Roles and staff actions)", () => {
  test("the first account, made with Google, is the owner; the next Discord one is a member", async () => {
    env = await fresh();
    const first = await signedIn("google", googleUser("g-owner", "owner@example.com"));
    expect(first.user.role).toBe("owner");
    const second = await signedIn("discord", discordUser("d-member", "member@example.com"));
    expect(second.user.role).toBe("member");
  });

  test("with sign-ups closed, Google makes no new account (the page says why) but known accounts still sign in", async () => {
    env = await fresh();
    const known = await signedIn("google", googleUser("g-known", "known@example.com"));
    const owner = await env.request("/api/v1/admin/settings", { method: "PUT", token: known.token, json: { registration: "closed" } });
    expect(owner.status).toBe(200);
    const refused = await webSignIn("google", googleUser("g-new", "new@example.com"));
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.page).toContain("This server does not accept new accounts");
    expect((await env.deps.database.db.select().from(users).where(eq(users.email, "new@example.com"))).length).toBe(0);
    expect((await webSignIn("google", googleUser("g-known", "known@example.com"))).ok).toBe(true);
  });
});

describe('Google and Discord first sign-ins under invite and approval modes (README "Invites and approval")', () => {
  /** The web flow started from an invite page: the code rides in the flow and is spent only if an account is made. */
  async function inviteSignIn(provider: Provider, user: Record<string, unknown>, invite: string) {
    mocks()[provider].user = user;
    const b = new Browser(env);
    const back = await b.app(await b.throughProvider(await b.app(`/api/v1/auth/${provider}?redirect_to=%2F&invite=${encodeURIComponent(invite)}`)));
    return { status: back.status, page: back.status === 302 ? "" : await back.text() };
  }
  const settings = (token: string, patch: Record<string, unknown>) => env.request("/api/v1/admin/settings", { method: "PUT", token, json: patch });
  const byEmail = async (email: string) => (await env.deps.database.db.select().from(users).where(eq(users.email, email)))[0];

  test("invite mode: without an invite no account (the page says why); with one, created and recorded; a used-up one refused", async () => {
    env = await fresh();
    const owner = await signedIn("google", googleUser("g-owner", "owner@example.com"));
    expect((await settings(owner.token, { registration: "invite" })).status).toBe(200);
    const refused = await webSignIn("google", googleUser("g-stranger", "stranger@example.com"));
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.page).toContain("by invitation only");
    expect(await byEmail("stranger@example.com")).toBeUndefined();

    const made = await json(await env.request("/api/v1/invites", { method: "POST", token: owner.token, json: { max_uses: 1 } }));
    const code = (made.url as string).split("/invite/")[1]!;
    // An existing account signing in through the invite does not spend it.
    expect((await inviteSignIn("google", googleUser("g-owner", "owner@example.com"), code)).status).toBe(302);
    expect((await inviteSignIn("discord", discordUser("d-friend", "friend@example.com"), code)).status).toBe(302);
    const friend = await byEmail("friend@example.com");
    expect(friend).toMatchObject({ approval: "approved", inviteId: made.invite.id });
    const used = await inviteSignIn("google", googleUser("g-late", "late@example.com"), code);
    expect(used.status).toBe(400);
    expect(used.page).toContain("used as many times as it allows");
    expect(await byEmail("late@example.com")).toBeUndefined();
    // A code of the wrong form is refused at the start.
    const b = new Browser(env);
    await expectError(await b.app("/api/v1/auth/google?redirect_to=%2F&invite=x"), 400, "invite_invalid");
  });

  test("approval mode: the first sign-in makes a waiting account (no session, staff mailed); the plugin's poll says so", async () => {
    env = await fresh();
    const owner = await signedIn("google", googleUser("g-owner2", "owner2@example.com"));
    expect((await settings(owner.token, { registration: "approval" })).status).toBe(200);
    const waiting = await webSignIn("google", googleUser("g-applicant", "applicant@example.com"));
    expect(waiting.ok).toBe(false);
    if (!waiting.ok) {
      expect(waiting.status).toBe(403);
      expect(waiting.page).toContain("Waiting for approval");
    }
    expect(await byEmail("applicant@example.com")).toMatchObject({ approval: "pending" });
    expect((await mailTo(env, "owner2@example.com")).some((m) => m.subject === "1 sign-up waiting on Sidechain")).toBe(true);
    // Signing in again while waiting: still no session.
    expect((await webSignIn("google", googleUser("g-applicant", "applicant@example.com"))).ok).toBe(false);

    // The plugin's browser sign-in: the poll reports the wait as its error message.
    google.user = googleUser("g-plugin", "plugin@example.com");
    const sid = newSessionId();
    const b = new Browser(env);
    const page = await b.app(await b.throughProvider(await b.app(`/api/v1/auth/google?session_id=${sid}`)));
    expect(page.status).toBe(403);
    const poll = await json(await get(`/oauth/poll?session_id=${sid}`));
    expect(poll.status).toBe("error");
    expect(poll.message).toContain("waiting for the community's staff");

    // Approved: the same Google account signs in.
    const applicant = (await byEmail("applicant@example.com"))!;
    expect((await env.request(`/api/v1/admin/signups/${applicant.id}/approve`, { method: "POST", token: owner.token, json: {} })).status).toBe(200);
    expect((await signedIn("google", googleUser("g-applicant", "applicant@example.com"))).user.id).toBe(applicant.id);
  });
});

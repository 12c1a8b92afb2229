// The browser pages behind the mail links and the sign-in page: GET shows a form, only a POST with the CSRF
// token changes anything; used, expired and wrong-purpose links are error pages; no page loads anything external.
import { afterEach, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { users } from "../../src/db/schema.ts";
import { Browser, csrfOf, type Page } from "../support/browser.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { awaitLinkToken, json, linkToken, registerUser } from "../support/auth.ts";
import { REDIRECT_CASES, staysOnServer } from "../support/redirects.ts";

let env: TestEnv;
afterEach(() => env?.close());

const login = (email: string, password: string) => env.request("/api/v1/auth/login", { method: "POST", json: { email, password } });
const me = (token: string) => env.request("/api/v1/auth/me", { token });
const userRow = async (id: string) => (await env.deps.database.db.select().from(users).where(eq(users.id, id)))[0]!;

async function resetToken(email: string) {
  await env.request("/api/v1/auth/forgot-password", { method: "POST", json: { email } });
  return awaitLinkToken(env, email, "/reset-password"); // the mail is prepared in the background
}

/** Every page: the security headers, and no URL that leaves the server (scripts, styles, images, links, forms). */
function checkPage(page: Page) {
  expect(page.headers.get("content-type")).toContain("text/html");
  expect(page.headers.get("referrer-policy")).toBe("no-referrer");
  expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
  expect(page.html).toContain('name="viewport"');
  const external = [...page.html.matchAll(/(?:src|href|action)\s*=\s*"([^"]*)"/gi)].map((m) => m[1]!).filter((u) => !u.startsWith("/") || u.startsWith("//"));
  expect(external).toEqual([]);
  expect(page.html).not.toMatch(/url\(\s*['"]?(https?:)?\/\//i);
  expect(page.html).not.toMatch(/<script/i);
}

for (const driver of DRIVERS) {
  describe(`mail link pages on ${driver}`, () => {
    test("reset password: the form, CSRF refusals, mismatched and weak passwords keep the link; success signs everything out; the link then fails", async () => {
      env = await createTestEnv(driver, { PUBLIC_URL: "https://loops.example.com" });
      const { input, auth } = await registerUser(env);
      const token = await resetToken(input.email);
      const browser = new Browser(env);
      const form = await browser.get(`/reset-password?token=${encodeURIComponent(token)}`);
      expect(form.status).toBe(200);
      checkPage(form);
      expect(form.html).toContain("Choose a new password");
      expect(browser.cookies.get("sc_csrf")).toBeTruthy();
      const csrfCookie = form.headers.getSetCookie().find((c) => c.startsWith("sc_csrf="))!;
      for (const attr of ["HttpOnly", "SameSite=Strict", "Secure"]) expect(csrfCookie).toContain(`; ${attr}`);

      // CSRF: no field, a wrong field, or no cookie (another browser) are refused and change nothing
      const fields = { token, password: "a brand new passphrase", password_confirm: "a brand new passphrase" };
      expect((await browser.post("/reset-password", fields)).status).toBe(403);
      expect((await browser.post("/reset-password", { ...fields, csrf: "y".repeat(43) })).status).toBe(403);
      const refused = await new Browser(env).post("/reset-password", { ...fields, csrf: csrfOf(form) });
      expect(refused.status).toBe(403);
      checkPage(refused);
      expect((await me(auth.token)).status).toBe(200);

      const mismatch = await browser.submit(form, { password: "a brand new passphrase", password_confirm: "a different passphrase" });
      expect(mismatch.status).toBe(400);
      expect(mismatch.html).toContain("not the same");
      const weak = await browser.submit(form, { password: "password", password_confirm: "password" });
      expect(weak.status).toBe(400);
      expect(weak.html).toContain("most common passwords");

      const saved = await browser.submit(weak, { password: "a brand new passphrase", password_confirm: "a brand new passphrase" });
      expect(saved.status).toBe(200);
      expect(saved.html).toContain("Password saved");
      checkPage(saved);
      expect((await me(auth.token)).status).toBe(401); // every session signed out
      expect((await login(input.email, "a brand new passphrase")).status).toBe(200);
      expect((await login(input.email, input.password)).status).toBe(401);

      // used: both the GET and a replayed POST are error pages
      const used = await browser.get(`/reset-password?token=${encodeURIComponent(token)}`);
      expect(used.status).toBe(400);
      expect(used.html).toContain("This link no longer works");
      checkPage(used);
      const replay = await browser.submit(form, { password: "yet another passphrase", password_confirm: "yet another passphrase" });
      expect(replay.status).toBe(400);
      expect(replay.html).toContain("This link no longer works");
    });

    test("verify email: GET only shows the form (mail scanners prefetch), the POST with the account's password verifies; then the link is spent", async () => {
      env = await createTestEnv(driver);
      const { input, auth } = await registerUser(env);
      const token = await linkToken(env, input.email, "/verify-email");
      const browser = new Browser(env);
      const page = await browser.get(`/verify-email?token=${encodeURIComponent(token)}`);
      expect(page.status).toBe(200);
      checkPage(page);
      expect(page.html).toContain("Confirm my email");
      await browser.get(`/verify-email?token=${encodeURIComponent(token)}`);
      expect((await userRow(auth.user.id)).emailVerified).toBe(false);

      expect((await browser.post("/verify-email", { token })).status).toBe(403);
      expect((await new Browser(env).post("/verify-email", { token, csrf: csrfOf(page) })).status).toBe(403);
      expect((await userRow(auth.user.id)).emailVerified).toBe(false);

      // Confirming needs the account's password: a wrong one shows the form again and spends nothing.
      expect(page.html).toContain('name="password"');
      const wrong = await browser.submit(page, { password: "not the password at all" });
      expect(wrong.status).toBe(401);
      expect(wrong.html).toContain("not this account");
      expect(wrong.html).toContain('action="/verify-email"');
      expect((await userRow(auth.user.id)).emailVerified).toBe(false);

      const done = await browser.submit(page, { password: input.password });
      expect(done.status).toBe(200);
      expect(done.html).toContain("Email confirmed");
      expect((await userRow(auth.user.id)).emailVerified).toBe(true);

      const again = await browser.get(`/verify-email?token=${encodeURIComponent(token)}`);
      expect(again.status).toBe(400);
      expect(again.html).toContain("no longer works");
      expect((await browser.submit(page)).status).toBe(400);
    });

    test("set password: an account without a password sets one through its mailed link", async () => {
      env = await createTestEnv(driver);
      const { input, auth } = await registerUser(env);
      // an account without a password (as a Google-only account is)
      await env.deps.database.db.update(users).set({ passwordHash: null }).where(eq(users.id, auth.user.id));
      await env.request("/api/v1/auth/forgot-password", { method: "POST", json: { email: input.email } });
      const token = await awaitLinkToken(env, input.email, "/set-password"); // prepared in the background
      const browser = new Browser(env);
      const form = await browser.get(`/set-password?token=${encodeURIComponent(token)}`);
      expect(form.status).toBe(200);
      checkPage(form);
      expect(form.html).toContain("Set a password");
      expect((await browser.post("/set-password", { token, password: "my first passphrase", password_confirm: "my first passphrase" })).status).toBe(403);
      const done = await browser.submit(form, { password: "my first passphrase", password_confirm: "my first passphrase" });
      expect(done.status).toBe(200);
      expect(done.html).toContain("Password saved");
      expect((await login(input.email, "my first passphrase")).status).toBe(200);
      expect((await browser.get(`/set-password?token=${encodeURIComponent(token)}`)).status).toBe(400);
    });
  });
}

describe("link pages refuse", () => {
  test("expired links, wrong-purpose links and made-up tokens, with an error page", async () => {
    env = await createTestEnv();
    const { input, auth } = await registerUser(env);
    const verify = await linkToken(env, input.email, "/verify-email");
    const reset = await resetToken(input.email);
    const browser = new Browser(env);
    // purpose-bound: a verification token is no reset token, and the other way round
    expect((await browser.get(`/reset-password?token=${encodeURIComponent(verify)}`)).status).toBe(400);
    expect((await browser.get(`/set-password?token=${encodeURIComponent(reset)}`)).status).toBe(400);
    expect((await browser.get(`/verify-email?token=${encodeURIComponent(reset)}`)).status).toBe(400);
    for (const path of ["/reset-password", "/set-password", "/verify-email", "/not-my-account"]) {
      for (const q of ["", "?token=", "?token=made-up-token-that-is-long-enough"]) {
        const page = await browser.get(`${path}${q}`);
        expect({ path, q, status: page.status }).toEqual({ path, q, status: 400 });
        checkPage(page);
      }
    }
    // a POST with a valid CSRF pair but a verify token on the reset page burns nothing and changes nothing
    const form = await browser.get(`/reset-password?token=${encodeURIComponent(reset)}`);
    const wrong = await browser.post("/reset-password", {
      csrf: csrfOf(form),
      token: verify,
      password: "some new passphrase",
      password_confirm: "some new passphrase",
    });
    expect(wrong.status).toBe(400);
    expect((await me(auth.token)).status).toBe(200);
    // expiry: the reset link lasts 30 minutes
    env.clock.advance(31 * 60_000);
    const late = await browser.get(`/reset-password?token=${encodeURIComponent(reset)}`);
    expect(late.status).toBe(400);
    expect(late.html).toContain("expired");
    const latePost = await browser.submit(form, { password: "some new passphrase", password_confirm: "some new passphrase" });
    expect(latePost.status).toBe(400);
    expect((await login(input.email, input.password)).status).toBe(200);
  });
});

describe("sign-in page", () => {
  test("signs in with email or username into an HttpOnly, SameSite=Lax cookie session (Secure on https), and out again", async () => {
    env = await createTestEnv("sqlite", { PUBLIC_URL: "https://loops.example.com" });
    const { input, auth } = await registerUser(env);
    const browser = new Browser(env, { "user-agent": "Firefox test" });
    const form = await browser.get("/signin");
    checkPage(form);
    const wrong = await browser.submit(form, { login: input.username, password: "not the password" });
    expect(wrong.status).toBe(401);
    expect(wrong.html).toContain("Wrong email, username or password");
    const unknown = await browser.submit(form, { login: "nobody@example.com", password: "not the password" });
    expect(unknown.status).toBe(401);
    expect(unknown.html).toContain("Wrong email, username or password");

    const res = await browser.submit(form, { login: input.username.toUpperCase(), password: input.password }, false);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/signin");
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith("sc_session="))!;
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Lax");
    expect(setCookie).toContain("Secure");
    expect(setCookie).toContain("Path=/");
    const signedIn = await browser.get("/signin");
    expect(signedIn.html).toContain(`@${input.username}`);
    checkPage(signedIn);
    // it is an ordinary session: listed on the account, with the browser's user agent
    const list = await json(await env.request("/api/v1/auth/sessions", { token: auth.token }));
    expect(list.sessions.map((s: any) => s.user_agent)).toContain("Firefox test");

    // sign-out needs the CSRF token too
    expect((await browser.post("/signout", {})).status).toBe(403);
    const out = await browser.submit(await browser.get("/signout"));
    expect(out.html).toContain("You are signed out");
    expect(browser.cookies.has("sc_session")).toBe(false);
    const after = await json(await env.request("/api/v1/auth/sessions", { token: auth.token }));
    expect(after.sessions.map((s: any) => s.user_agent)).not.toContain("Firefox test");
  });

  test("the cookie is not Secure on an http PUBLIC_URL; a stolen cookie value dies with sign-out", async () => {
    env = await createTestEnv("sqlite", { PUBLIC_URL: "http://192.168.1.20:8787" });
    const { input } = await registerUser(env);
    const browser = new Browser(env);
    const res = await browser.submit(await browser.get("/signin"), { login: input.email, password: input.password }, false);
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith("sc_session="))!;
    expect(setCookie).not.toContain("Secure");
    const copy = new Browser(env);
    copy.cookies.set("sc_session", browser.cookies.get("sc_session")!);
    expect((await copy.get("/signin")).html).toContain("You are signed in");
    await browser.submit(await browser.get("/signout"));
    expect((await copy.get("/signin")).html).not.toContain("You are signed in");
  });

  test("?next= only accepts relative paths on this server", async () => {
    env = await createTestEnv();
    const { input } = await registerUser(env);
    const cases: [string, string][] = [
      ["/device?code=BBBB-CCCC", "/device?code=BBBB-CCCC"],
      ["//evil.example.com/x", "/signin"],
      ["/\\evil.example.com", "/signin"],
      ["https://evil.example.com/", "/signin"],
      ["javascript:alert(1)", "/signin"],
      ["/%0d%0aSet-Cookie:x=1", "/%0d%0aSet-Cookie:x=1"],
    ];
    for (const [next, expected] of cases) {
      const browser = new Browser(env);
      const form = await browser.get(`/signin?next=${encodeURIComponent(next)}`);
      const res = await browser.submit(form, { login: input.email, password: input.password }, false);
      expect({ next, location: res.headers.get("location") }).toEqual({ next, location: expected });
    }
  });

  test("every ?next= payload: the sign-in POST and a signed-in GET only ever redirect to the normalised path on this server", async () => {
    env = await createTestEnv("sqlite", { RATE_LIMIT_AUTH_PER_MIN: "1000" });
    const { input } = await registerUser(env);
    const signedIn = new Browser(env);
    await signedIn.submit(await signedIn.get("/signin"), { login: input.email, password: input.password });
    for (const [next, expected] of REDIRECT_CASES) {
      // POST /signin with the raw payload in the form (as an attacker's page would send it)
      const browser = new Browser(env);
      const form = await browser.get("/signin");
      const res = await browser.post("/signin", { csrf: csrfOf(form), login: input.email, password: input.password, next }, false);
      expect({ next, status: res.status, location: res.headers.get("location") }).toEqual({ next, status: 303, location: expected ?? "/signin" });
      // GET /signin?next= in a browser that is signed in already: no click needed, so the same guard applies
      const get = await signedIn.get(`/signin?next=${encodeURIComponent(next)}`, false);
      if (expected === null) expect({ next, status: get.status }).toEqual({ next, status: 200 });
      else expect({ next, status: get.status, location: get.headers.get("location") }).toEqual({ next, status: 303, location: expected });
      for (const r of [res, get]) if (r.headers.get("location")) expect(staysOnServer(r.headers.get("location"))).toBe(true);
    }
  }, 30_000); // dozens of sign-ins (each a password hash): seconds on a loaded machine

  test("failed sign-ins on the page and on the API count together per account (backoff), and per IP", async () => {
    env = await createTestEnv("sqlite", { LOGIN_FAILURES_BEFORE_BACKOFF: "2" });
    const { input } = await registerUser(env);
    const browser = new Browser(env);
    const form = await browser.get("/signin");
    expect((await browser.submit(form, { login: input.email, password: "wrong one here" })).status).toBe(401);
    expect((await login(input.email, "wrong two here")).status).toBe(401);
    const api = await login(input.email, input.password);
    expect(api.status).toBe(429);
    const page = await browser.submit(form, { login: input.email, password: input.password });
    expect(page.status).toBe(429);
    expect(page.headers.get("retry-after")).toBeTruthy();
    expect(page.html).toContain("Too many attempts");
    checkPage(page);
    env.clock.advance(3_000);
    expect((await browser.submit(form, { login: input.email, password: input.password })).html).toContain("You are signed in");

    env = (await env.close(), await createTestEnv("sqlite", { RATE_LIMIT_AUTH_PER_MIN: "2" }));
    const b2 = new Browser(env);
    const f2 = await b2.get("/signin");
    await login("a@example.com", "whatever password");
    await b2.submit(f2, { login: "b@example.com", password: "whatever password" });
    expect((await b2.submit(f2, { login: "c@example.com", password: "whatever password" })).status).toBe(429);
  });
});

describe("cookies", () => {
  // Percent-encoding cut short, a NUL, characters no server would set, and an endless value.
  const GARBAGE = ["%E0%A4%A", "%", "a%00b", "\u00e9t\u00e9", '"quoted"', "x".repeat(9000)];

  test("a malformed cookie is simply absent on every page that reads one (never a 500)", async () => {
    env = await createTestEnv();
    const { input } = await registerUser(env);
    const valid = new Browser(env);
    const form = await valid.get("/signin");
    for (const value of GARBAGE) {
      const cookie = `sc_session=${value}; sc_csrf=${value}; sc_oauth_google=${value}`;
      const b = new Browser(env, { cookie });
      const pages: [string, Page][] = [
        ["GET /signin", await b.get("/signin", false)],
        ["GET /signin?next", await b.get("/signin?next=/device", false)],
        ["GET /signout", await b.get("/signout", false)],
        ["GET /device", await b.get("/device?code=BBBB-CCCC", false)],
        ["GET /reset-password", await b.get("/reset-password?token=made-up-token-that-is-long-enough", false)],
        ["POST /signin", await b.post("/signin", { csrf: csrfOf(form), login: input.email, password: input.password }, false)],
        ["POST /signout", await b.post("/signout", { csrf: value }, false)],
        ["POST /device", await b.post("/device", { csrf: value, code: "BBBB-CCCC" }, false)],
        ["POST /device/confirm", await b.post("/device/confirm", { csrf: value, code: "BBBB-CCCC", decision: "approve" }, false)],
        [
          "POST /reset-password",
          await b.post("/reset-password", { csrf: value, token: "x", password: "a new passphrase", password_confirm: "a new passphrase" }, false),
        ],
        ["POST /verify-email", await b.post("/verify-email", { csrf: value, token: "x" }, false)],
      ];
      for (const [what, page] of pages)
        expect({ what, value: value.slice(0, 20), server_error: page.status >= 500 }).toEqual({ what, value: value.slice(0, 20), server_error: false });
      const [[, signin], , , [, device], , [, post]] = pages;
      expect(signin!.status).toBe(200);
      expect(signin!.html).toContain("<h1>Sign in</h1>");
      expect(signin!.headers.getSetCookie().join()).toMatch(/sc_csrf=[A-Za-z0-9_-]{32,}/); // a fresh CSRF cookie replaces the bad one
      expect(device!.status).toBe(303); // not signed in
      expect(post!.status).toBe(403); // the garbage CSRF cookie does not count
    }
    // a cookie that appears twice: the first one counts, as browsers send the most specific first
    const b = new Browser(env);
    await b.submit(await b.get("/signin"), { login: input.email, password: input.password });
    const twice = new Browser(env, { cookie: `sc_session=${b.cookies.get("sc_session")}; sc_session=%E0%A4%A` });
    expect((await twice.get("/signin")).html).toContain("You are signed in");
  });

  test("every Set-Cookie is HttpOnly with Path, SameSite and Max-Age, and Secure on an https PUBLIC_URL only", async () => {
    for (const [url, secure] of [
      ["https://loops.example.com", true],
      ["http://192.168.1.20:8787", false],
    ] as const) {
      if (!secure) await env.close();
      env = await createTestEnv("sqlite", { PUBLIC_URL: url });
      const { input } = await registerUser(env);
      const b = new Browser(env);
      const form = await b.get("/signin");
      const signedIn = await b.submit(form, { login: input.email, password: input.password }, false);
      const out = await b.post("/signout", { csrf: csrfOf(form) }, false);
      for (const line of [...form.headers.getSetCookie(), ...signedIn.headers.getSetCookie(), ...out.headers.getSetCookie()]) {
        expect(line).toMatch(/^sc_(session|csrf)=[A-Za-z0-9._-]*;/);
        expect(line).toContain("; Path=/;");
        expect(line).toMatch(/; Max-Age=\d+/);
        expect(line).toContain("HttpOnly");
        expect(line).toMatch(/SameSite=(Lax|Strict)/);
        expect(line.includes("Secure")).toBe(secure);
      }
    }
  });
});

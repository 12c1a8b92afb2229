// RFC 8628 device sign-in, end to end: the device asks for a code and polls the API; the user goes through the
// pages in a browser (a real cookie jar: sign-in cookie, CSRF cookie) and approves or denies.
import { afterEach, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { sessions, signInRequests } from "../../src/db/schema.ts";
import { sha256 } from "../../src/lib/crypto.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { awaitLinkToken, expectError, json, registerUser } from "../support/auth.ts";

let env: TestEnv;
afterEach(() => env?.close());

const DEVICE_UA = "Sidechain-Plugin/1.0 (device test)";
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

const newCode = async () => {
  const res = await env.request("/api/v1/auth/device/code", { method: "POST", json: {}, headers: { "user-agent": DEVICE_UA } });
  expect(res.status).toBe(200);
  return (await json(res)) as {
    device_code: string;
    user_code: string;
    verification_uri: string;
    verification_uri_complete: string;
    expires_in: number;
    interval: number;
  };
};
const poll = (device_code: string) => env.request("/api/v1/auth/device/token", { method: "POST", json: { device_code }, headers: { "user-agent": DEVICE_UA } });
const pollBody = async (device_code: string) => {
  const res = await poll(device_code);
  return { status: res.status, body: await json(res), headers: res.headers };
};
const pathOf = (url: string) => {
  const u = new URL(url);
  return u.pathname + u.search;
};

async function signedInBrowser(input: { username: string; password: string }) {
  const browser = new Browser(env);
  const form = await browser.get("/signin");
  const done = await browser.submit(form, { login: input.username, password: input.password });
  expect(done.html).toContain("You are signed in as");
  return browser;
}

for (const driver of DRIVERS) {
  describe(`device sign-in on ${driver}`, () => {
    test("code → /device page → sign in → approve → the device gets its tokens once, then the code is spent", async () => {
      env = await createTestEnv(driver, { PUBLIC_URL: "https://loops.example.com" });
      const { input, auth: owner } = await registerUser(env);

      const code = await newCode();
      expect(code.device_code.length).toBeGreaterThanOrEqual(43); // ≥ 256 bits, base64url
      expect(code.user_code).toMatch(USER_CODE);
      expect(code.verification_uri).toBe("https://loops.example.com/device");
      expect(code.verification_uri_complete).toBe(`https://loops.example.com/device?code=${code.user_code}`);
      expect(code.expires_in).toBe(600);
      expect(code.interval).toBe(5);
      // stored hashed: the row is keyed by the code's SHA-256, and the code itself is nowhere in it
      const [row] = await env.deps.database.db
        .select()
        .from(signInRequests)
        .where(eq(signInRequests.id, sha256(code.device_code)));
      expect(row).toBeDefined();
      expect(JSON.stringify(row)).not.toContain(code.device_code);

      expect(await pollBody(code.device_code)).toMatchObject({ status: 200, body: { status: "pending" } });

      // The user follows verification_uri_complete: not signed in yet, so the sign-in page comes first.
      const browser = new Browser(env);
      const signin = await browser.get(pathOf(code.verification_uri_complete));
      expect(signin.url).toBe(`/signin?next=${encodeURIComponent(`/device?code=${code.user_code}`)}`);
      expect(signin.html).toContain("Sign in to continue");
      const confirm = await browser.submit(signin, { login: input.email, password: input.password });
      expect(confirm.url).toBe(`/device?code=${code.user_code}`);
      expect(confirm.status).toBe(200);
      expect(confirm.html).toContain("Sign in a device?");
      expect(confirm.html).toContain(code.user_code);
      expect(confirm.html).toContain(`@${input.username}`);
      const cookie = browser.cookies.get("sc_session");
      expect(cookie).toBeTruthy();

      // Looking at the confirmation changes nothing.
      env.clock.advance(5_000);
      expect((await pollBody(code.device_code)).body).toEqual({ status: "pending" });

      const approved = await browser.submit(confirm, { decision: "approve" });
      expect(approved.status).toBe(200);
      expect(approved.html).toContain("Device signed in");

      env.clock.advance(5_000);
      const done = await pollBody(code.device_code);
      expect(done.status).toBe(200);
      expect(done.body.status).toBe("complete");
      expect("error" in done.body).toBe(false);
      expect(Object.keys(done.body.auth).sort()).toEqual(["expires_at", "refresh_token", "token", "user"]);
      expect(done.body.auth.user.id).toBe(owner.user.id);
      const me = await env.request("/api/v1/auth/me", { token: done.body.auth.token });
      expect(me.status).toBe(200);
      // the device has its own session, named by its user agent
      const sessions = await json(await env.request("/api/v1/auth/sessions", { token: done.body.auth.token }));
      expect(sessions.sessions.find((s: any) => s.current).user_agent).toBe(DEVICE_UA);

      // Handed out once: the next poll hears expired_token, and the page no longer knows the code.
      env.clock.advance(5_000);
      const again = await pollBody(code.device_code);
      expect(again.status).toBe(400);
      expect(again.body.error).toBe("expired_token");
      const gone = await browser.get(`/device?code=${code.user_code}`);
      expect(gone.status).toBe(404);
      expect(gone.html).toContain("No sign-in is waiting for this code");
    });

    test("deny → the device hears access_denied; the code can be typed in any case with spaces", async () => {
      env = await createTestEnv(driver);
      const { input } = await registerUser(env);
      const code = await newCode();
      const browser = await signedInBrowser(input);
      const entry = await browser.get("/device");
      expect(entry.html).toContain("Connect a device");
      const typed = code.user_code.toLowerCase().replace("-", " ");
      const confirm = await browser.submit(entry, { code: typed });
      expect(confirm.html).toContain("Sign in a device?");
      const denied = await browser.submit(confirm, { decision: "deny" });
      expect(denied.html).toContain("Sign-in denied");
      const r = await pollBody(code.device_code);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: "access_denied" });
      expect(typeof r.body.message).toBe("string");
      // a decided code cannot be decided again
      const late = await browser.post("/device/confirm", { csrf: csrfOf(confirm), code: code.user_code, decision: "approve" });
      expect(late.status).toBe(400);
      expect(late.html).toContain("This code no longer works");
      env.clock.advance(5_000);
      expect((await pollBody(code.device_code)).body.error).toBe("access_denied");
    });

    test("expired codes: the device hears expired_token and the page refuses to approve", async () => {
      env = await createTestEnv(driver);
      const { input } = await registerUser(env);
      const code = await newCode();
      const browser = await signedInBrowser(input);
      const confirm = await browser.get(`/device?code=${code.user_code}`);
      expect(confirm.html).toContain("Sign in a device?");
      env.clock.advance(10 * 60_000 + 1_000);
      const approve = await browser.submit(confirm, { decision: "approve" });
      expect(approve.status).toBe(400);
      expect(approve.html).toContain("This code no longer works");
      const r = await pollBody(code.device_code);
      expect(r.status).toBe(400);
      expect(r.body.error).toBe("expired_token");
      expect((await browser.get(`/device?code=${code.user_code}`)).status).toBe(404);
    });
  });
}

describe("device polling", () => {
  test("polling faster than the interval is slow_down, and each slow_down adds 5 s (RFC 8628 §3.5)", async () => {
    env = await createTestEnv();
    const code = await newCode();
    expect((await pollBody(code.device_code)).body).toEqual({ status: "pending" });
    const fast = await pollBody(code.device_code);
    expect(fast.status).toBe(400);
    expect(fast.body.error).toBe("slow_down");
    expect(fast.headers.get("retry-after")).toBe("10");
    env.clock.advance(10_000);
    expect((await pollBody(code.device_code)).body).toEqual({ status: "pending" });
    env.clock.advance(5_000); // the interval is 10 s now
    const slower = await pollBody(code.device_code);
    expect(slower.body.error).toBe("slow_down");
    expect(slower.headers.get("retry-after")).toBe("15");
    env.clock.advance(15_000);
    expect((await pollBody(code.device_code)).body).toEqual({ status: "pending" });
  });

  test("an unknown device code is invalid_grant; a missing one is a validation error", async () => {
    env = await createTestEnv();
    const r = await pollBody("not-a-code-this-server-gave-out");
    expect(r.status).toBe(400);
    expect(r.body.error).toBe("invalid_grant");
    const missing = await env.request("/api/v1/auth/device/token", { method: "POST", json: {} });
    expect(missing.status).toBe(400);
    expect((await json(missing)).error).toBe("validation_error");
  });

  test("code creation and polling are rate-limited per IP with 429 + Retry-After", async () => {
    env = await createTestEnv("sqlite", { RATE_LIMIT_AUTH_PER_MIN: "2", RATE_LIMIT_DEVICE_POLL_PER_MIN: "2" });
    const code = await newCode();
    await newCode();
    const third = await env.request("/api/v1/auth/device/code", { method: "POST", json: {} });
    expect(third.status).toBe(429);
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await json(third)).error).toBe("rate_limited");
    await poll(code.device_code);
    env.clock.advance(5_000);
    await poll(code.device_code);
    env.clock.advance(5_000);
    const limited = await poll(code.device_code);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBeTruthy();
  });
});

describe("the /device page", () => {
  test("needs a signed-in browser, and a CSRF token on every post", async () => {
    env = await createTestEnv();
    const { input } = await registerUser(env);
    const code = await newCode();
    // not signed in: GET and POST both lead to the sign-in page, keeping the code
    const anon = new Browser(env);
    const redirected = await anon.get(`/device?code=${code.user_code}`, false);
    expect(redirected.status).toBe(303);
    expect(redirected.headers.get("location")).toBe(`/signin?next=${encodeURIComponent(`/device?code=${code.user_code}`)}`);
    const posted = await anon.post("/device/confirm", { code: code.user_code, decision: "approve" }, false);
    expect(posted.status).toBe(303);

    const browser = await signedInBrowser(input);
    const confirm = await browser.get(`/device?code=${code.user_code}`);
    // no CSRF field, then a wrong one: refused, nothing decided
    const missing = await browser.post("/device/confirm", { code: code.user_code, decision: "approve" });
    expect(missing.status).toBe(403);
    const wrong = await browser.post("/device/confirm", { csrf: "x".repeat(43), code: code.user_code, decision: "approve" });
    expect(wrong.status).toBe(403);
    // a cross-site page cannot read the cookie, so a post from a browser without it is refused too
    const other = new Browser(env);
    other.cookies.set("sc_session", browser.cookies.get("sc_session")!);
    expect((await other.post("/device/confirm", { csrf: csrfOf(confirm), code: code.user_code, decision: "approve" })).status).toBe(403);
    expect((await pollBody(code.device_code)).body).toEqual({ status: "pending" });
    // a malformed code is explained on the page
    const bad = await browser.submit(await browser.get("/device"), { code: "AEIOU-123" });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain("not a valid code");
  });

  test("guessing user codes is rate-limited per IP and per user", async () => {
    env = await createTestEnv("sqlite", { RATE_LIMIT_AUTH_PER_MIN: "3" });
    const { input } = await registerUser(env);
    const browser = await signedInBrowser(input);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await browser.get(`/device?code=BBBB-BBB${"CDFG"[i]}`)).status);
    expect(statuses).toEqual([404, 404, 404, 429]);
    const limited = await browser.get("/device?code=BBBB-BBBH");
    expect(limited.headers.get("retry-after")).toBeTruthy();
    expect(limited.html).toContain("Too many attempts");
  });

  test("a device approved from a browser session inherits that session's sign-in time (L6), so approving cannot refresh it", async () => {
    env = await createTestEnv();
    const { input } = await registerUser(env);
    const browser = await signedInBrowser(input);
    const signedInAt = env.clock.now();
    env.clock.advance(11 * 60_000); // the browser's sign-in is no longer recent
    const code = await newCode();
    expect((await browser.submit(await browser.get(`/device?code=${code.user_code}`), { decision: "approve" })).html).toContain("Device signed in");
    const done = await pollBody(code.device_code);
    expect(done.body.status).toBe("complete");
    const sid = JSON.parse(Buffer.from(done.body.auth.token.split(".")[1], "base64url").toString()).sid;
    const [row] = await env.deps.database.db.select().from(sessions).where(eq(sessions.id, sid));
    expect(row!.authenticatedAt).toBe(signedInAt);
    // what needs a recent sign-in is refused to the device, as it would be to the browser
    await expectError(await env.request("/api/v1/auth/identities/google", { method: "DELETE", token: done.body.auth.token }), 403, "reauthentication_required");
  });

  test("a device approved but not collected yet is cancelled by a password reset (L7): whoever approved it may be who the reset locks out", async () => {
    env = await createTestEnv();
    const { input } = await registerUser(env);
    const browser = await signedInBrowser(input); // say, someone who knew the old password
    const code = await newCode();
    expect((await browser.submit(await browser.get(`/device?code=${code.user_code}`), { decision: "approve" })).html).toContain("Device signed in");
    // the owner resets the password before the device collects its tokens
    expect((await env.request("/api/v1/auth/forgot-password", { method: "POST", json: { email: input.email } })).status).toBe(202);
    const token = await awaitLinkToken(env, input.email, "/reset-password"); // prepared in the background
    expect(
      (await env.request("/api/v1/auth/reset-password/confirm", { method: "POST", json: { token, new_password: "an entirely new passphrase 42" } })).status,
    ).toBe(200);
    const r = await pollBody(code.device_code);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: "access_denied" });
  });

  test("revoking the browser's session (logout-all from the API) signs the page out at once", async () => {
    env = await createTestEnv();
    const { input, auth } = await registerUser(env);
    const browser = await signedInBrowser(input);
    expect((await browser.get("/device")).html).toContain("Connect a device");
    await env.request("/api/v1/auth/logout-all", { method: "POST", json: {}, token: auth.token });
    const page = await browser.get("/device", false);
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toStartWith("/signin");
  });
});

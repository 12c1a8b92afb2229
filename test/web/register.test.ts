// Creating an account from the browser (docs/architecture.md "Web app"), in process: the form, the happy path
// (a browser session, lands on / or `next`, the verification mail), refusals that keep what was typed but never
// the password, CSRF, the API's per-IP budget, closed registration; and the account pages in the app's frame.
import { afterEach, describe, expect, test } from "bun:test";
import { mailTo, registerUser } from "../support/auth.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";

let env: TestEnv;
afterEach(() => env?.close());

const fields = (n: string) => ({ email: `${n}@example.com`, username: n, password: "correct horse battery staple", display_name: `DJ ${n}` });

describe("/register", () => {
  test("the form: fields with autocomplete and the API's lengths, CSRF, links to sign in; a signed-in browser goes home", async () => {
    env = await createTestEnv("sqlite", { INSTANCE_NAME: "Night Shift" });
    const b = new Browser(env);
    const page = await b.get("/register?next=/l/abc");
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(page.html).toContain("<title>Create an account · Night Shift</title>");
    expect(page.html).toMatch(/<input id="email" name="email" type="email" autocomplete="email"/);
    expect(page.html).toMatch(/name="password" type="password" autocomplete="new-password"[^>]*minlength="8" maxlength="256"/);
    expect(page.html).toMatch(/name="username" type="text" autocomplete="username"[^>]*minlength="3" maxlength="30"/);
    expect(page.html).toContain('name="next" value="/l/abc"');
    expect(page.html).toContain(`href="/signin?next=${encodeURIComponent("/l/abc")}"`);
    expect(csrfOf(page)).toBeTruthy();
    expect(page.html).not.toContain("Continue with"); // no provider configured

    // The sign-in page links here.
    const signin = await b.get("/signin");
    expect(signin.html).toContain('href="/register"');
  });

  test("happy path: the account exists, the browser is signed in, lands on next, the verification mail went out", async () => {
    env = await createTestEnv("sqlite");
    const b = new Browser(env);
    const page = await b.get("/register?next=/?tab=global");
    const res = await b.post("/register", { csrf: csrfOf(page), next: "/?tab=global", ...fields("nova") }, false);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/?tab=global");
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("sc_session="))!;
    expect(cookie).toContain("HttpOnly");
    const home = await b.get("/");
    expect(home.html).toContain('href="/@nova"'); // signed in: the header links to the profile
    const mails = await mailTo(env, "nova@example.com");
    expect(mails.length).toBe(1);
    expect(mails[0]!.text).toContain("/verify-email?token=");
    // One session (the browser's), listed like any other: no unused API session was made alongside.
    const login = await env.request("/api/v1/auth/login", { method: "POST", json: { email: "nova@example.com", password: fields("nova").password } });
    const { auth } = await login.json();
    const sessions = await (await env.request("/api/v1/auth/sessions", { token: auth.token })).json();
    expect((sessions.sessions ?? sessions.items ?? sessions).length).toBe(2);
    // Signed in, /register goes home.
    const again = await b.get("/register", false);
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toBe("/");
  });

  test("refusals show the form again with the reasons and what was typed, never the password", async () => {
    env = await createTestEnv("sqlite");
    await registerUser(env, { username: "taken", email: "taken@example.com" });
    const b = new Browser(env);
    const page = await b.get("/register");
    const csrf = csrfOf(page);

    let res = await b.post("/register", { csrf, ...fields("taken"), email: "other@example.com" });
    expect(res.status).toBe(409);
    expect(res.html).toContain("That username is taken");
    expect(res.html).toContain('value="other@example.com"');
    expect(res.html).not.toContain("correct horse battery staple");
    expect(b.cookies.has("sc_session")).toBe(false);

    res = await b.post("/register", { csrf, ...fields("weakling"), password: "password" });
    expect(res.status).toBe(400);
    expect(res.html).toContain("most common passwords");
    expect(res.html).toMatch(/aria-invalid="true" aria-describedby="password-error password-hint"/);
    expect(res.html).toContain('value="weakling"');

    res = await b.post("/register", { csrf, ...fields("mailless"), email: "not-an-email" });
    expect(res.status).toBe(400);
    expect(res.html).toContain("Not a valid email address");
    expect(res.html).toContain('value="DJ mailless"');
  });

  test("CSRF: no token or a wrong one is refused (403) and creates nothing", async () => {
    env = await createTestEnv("sqlite");
    const b = new Browser(env);
    await b.get("/register");
    let res = await b.post("/register", fields("ghost"));
    expect(res.status).toBe(403);
    expect(res.html).toContain("did not come from this site");
    expect(res.html).toContain('value="ghost"');
    res = await b.post("/register", { ...fields("ghost"), csrf: "x".repeat(43) });
    expect(res.status).toBe(403);
    const login = await env.request("/api/v1/auth/login", { method: "POST", json: { email: "ghost@example.com", password: fields("ghost").password } });
    expect(login.status).toBe(401);
  });

  test("the API's per-IP budget: over RATE_LIMIT_AUTH_PER_MIN is 429 with Retry-After, as a page", async () => {
    env = await createTestEnv("sqlite", { RATE_LIMIT_AUTH_PER_MIN: "2" });
    const b = new Browser(env);
    const csrf = csrfOf(await b.get("/register"));
    await b.post("/register", { csrf, ...fields("a1"), password: "x" });
    await b.post("/register", { csrf, ...fields("a2"), password: "x" });
    const res = await b.post("/register", { csrf, ...fields("a3") });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBeTruthy();
    expect(res.html).toContain("Too many attempts");
  });

  test("closed registration: a 403 page for GET and POST, and the sign-in page does not offer it", async () => {
    env = await createTestEnv("sqlite", { REGISTRATION_OPEN: "false" });
    const b = new Browser(env);
    const page = await b.get("/register");
    expect(page.status).toBe(403);
    expect(page.html).toContain("Registration is closed");
    const post = await b.post("/register", fields("late"));
    expect(post.status).toBe(403);
    expect((await b.get("/signin")).html).not.toContain("Create an account");
  });

  test("Google and Discord buttons when configured, coming back to next", async () => {
    env = await createTestEnv("sqlite", { GOOGLE_CLIENT_ID: "id", GOOGLE_CLIENT_SECRET: "secret" });
    const page = await new Browser(env).get("/register?next=/l/abc");
    expect(page.html).toContain(`href="/api/v1/auth/google?redirect_to=${encodeURIComponent("/l/abc")}"`);
    expect(page.html).toContain("Continue with <span>Google</span>");
    expect(page.html).not.toContain("discord");
  });
});

describe("the account pages in the web app's frame", () => {
  test("the header with the instance's name, the one stylesheet, no script, no inline style, strict CSP", async () => {
    env = await createTestEnv("sqlite", { INSTANCE_NAME: "Night Shift" });
    const page = await new Browser(env).get("/signin");
    expect(page.html).toContain("<title>Sign in · Night Shift</title>");
    expect(page.html).toMatch(/<link rel="stylesheet" href="\/assets\/app-[a-z0-9]+\.css"\/>/);
    expect(page.html).toContain('<header class="top">');
    expect(page.html).toContain('<main id="main" class="narrow"');
    expect(page.html).not.toContain("<style");
    expect(page.html).not.toContain("<script");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("style-src 'self'");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.html).toContain("Create an account");
  });
});

// The web app's browser session rolls (docs/security.md "Browser sessions, cookies and CSRF"): its cookie's token
// lives as long as the session could without use and is replaced on a page visit once it is older than
// ACCESS_TOKEN_TTL_S, so a producer who comes back within SESSION_IDLE_TTL_S stays signed in, up to the session's
// hard end; revocation and sign-out still end it at once. In process, with the test clock.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { registerUser } from "../support/auth.ts";
import { Browser, type Page } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let env: TestEnv;
let user: Awaited<ReturnType<typeof registerUser>>;

beforeAll(async () => {
  // The defaults: tokens replaced after 24 h, sessions idle 30 days, 90 days at most.
  env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost" });
  user = await registerUser(env, { username: "roller" });
});
afterAll(() => env.close());

async function signIn() {
  const b = new Browser(env);
  const page = await b.get("/signin");
  const done = await b.submit(page, { login: user.input.username, password: user.input.password }, false);
  return { b, done };
}
const sessionCookieOf = (page: Page) => page.headers.getSetCookie().find((c) => c.startsWith("sc_session="));
const maxAgeOf = (cookie: string | undefined) => Number(/Max-Age=(\d+)/i.exec(cookie ?? "")?.[1]);
const signedIn = async (b: Browser) => (await b.get("/settings", false)).status === 200;

describe("a browser session that is used", () => {
  test("the sign-in cookie lasts as long as the session could without use (30 days)", async () => {
    const { done } = await signIn();
    expect(maxAgeOf(sessionCookieOf(done))).toBe(30 * 86400);
  });

  test("a visit within a day keeps the cookie; after a day the visit's answer carries a new one; weeks later it still works", async () => {
    const { b } = await signIn();
    const first = b.cookies.get("sc_session");
    env.clock.advance(2 * HOUR);
    const early = await b.get("/settings", false);
    expect(sessionCookieOf(early)).toBeUndefined();

    env.clock.advance(DAY);
    const due = await b.get("/settings", false);
    expect(due.status).toBe(200);
    const renewed = sessionCookieOf(due);
    expect(renewed).toBeDefined();
    expect(maxAgeOf(renewed)).toBe(30 * 86400);
    expect(b.cookies.get("sc_session")).not.toBe(first);
    expect(renewed).toContain("HttpOnly");

    // 29 days away: the session slid at the last visit and the renewed token still holds.
    env.clock.advance(29 * DAY);
    expect(await signedIn(b)).toBe(true);
  });

  test("a JSON write from the page's script carries the renewal too (any answer of a page request)", async () => {
    const { b } = await signIn();
    const page = await b.get("/notifications");
    const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(page.html)?.[1] ?? "";
    env.clock.advance(DAY + HOUR);
    const res = await b.fetch("/notifications/read", { method: "POST", headers: { accept: "application/json", "x-csrf-token": csrf } }, false);
    expect(res.status).toBe(200);
    expect(sessionCookieOf(res)).toBeDefined();
  });
});

describe("a browser session that ends", () => {
  test("unused for longer than SESSION_IDLE_TTL_S: signed out", async () => {
    const { b } = await signIn();
    env.clock.advance(31 * DAY);
    expect(await signedIn(b)).toBe(false);
  });

  test("used every few weeks: never past the hard end (90 days after sign-in); the cookie never outlives it", async () => {
    const { b } = await signIn();
    for (let day = 20; day < 90; day += 20) {
      env.clock.advance(20 * DAY);
      const page = await b.get("/settings", false);
      expect(page.status).toBe(200);
      expect(maxAgeOf(sessionCookieOf(page))).toBe(Math.min(30, 90 - day) * 86400);
    }
    env.clock.advance(11 * DAY); // day 91
    expect(await signedIn(b)).toBe(false);
  });

  test("signing out clears the cookie and is not undone by a renewal that was due", async () => {
    const { b } = await signIn();
    env.clock.advance(DAY + HOUR);
    const settings = await b.get("/settings");
    env.clock.advance(DAY + HOUR);
    const out = await b.fetch(
      "/signout",
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ csrf: /name="csrf" value="([^"]+)"/.exec(settings.html)?.[1] ?? "" }).toString(),
      },
      false,
    );
    const cookies = out.headers.getSetCookie().filter((c) => c.startsWith("sc_session="));
    expect(cookies).toHaveLength(1);
    expect(maxAgeOf(cookies[0])).toBe(0);
    expect(b.cookies.has("sc_session")).toBe(false);
  });

  test("a revoked session is not renewed: the old cookie and any would-be renewal are dead at once", async () => {
    const { b } = await signIn();
    const token = b.cookies.get("sc_session")!;
    env.clock.advance(DAY + HOUR);
    const login = await env.request("/api/v1/auth/login", { method: "POST", json: { email: user.input.email, password: user.input.password } });
    const api = ((await login.json()) as { auth: { token: string } }).auth;
    expect((await env.request("/api/v1/auth/logout-all", { method: "POST", token: api.token })).status).toBe(200);
    const page = await b.get("/settings", false);
    expect(page.status).toBe(303);
    expect(sessionCookieOf(page)).toBeUndefined();
    expect(b.cookies.get("sc_session")).toBe(token);
  });
});

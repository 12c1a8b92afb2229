// Reactions and follows from the browser (docs/architecture.md "Web app"), in process: the client script's JSON
// (accept: application/json, x-csrf-token) and the plain form's 303 back, the toggle, the counts on the reloaded
// page, and the refusals: no or a wrong CSRF token changes nothing, signed out, unknown loops and users, yourself.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { expectError, registerUser } from "../support/auth.ts";
import { Browser, csrfOf, type Page } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertReadyPost } from "../support/ready-posts.ts";
import { FollowButton } from "../../src/web/ui/follow.tsx";

let env: TestEnv;
let mira: Awaited<ReturnType<typeof registerUser>>;
let fan: Awaited<ReturnType<typeof registerUser>>;
let loopId: string;

async function signedIn(who: typeof fan) {
  const b = new Browser(env);
  const page = await b.get("/signin");
  await b.submit(page, { login: who.input.username, password: who.input.password });
  return b;
}

/** What the client script sends: the form urlencoded, JSON asked for, the token in x-csrf-token. */
function scriptPost(b: Browser, path: string, fields: Record<string, string>, csrf: string) {
  return b.fetch(
    path,
    {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json", "x-csrf-token": csrf },
      body: new URLSearchParams(fields).toString(),
    },
    false,
  );
}
const body = (p: Page) => JSON.parse(p.html);
const apiPost = async (id: string, token: string) =>
  (await env.request(`/api/v1/posts/${id}`, { token })).json() as Promise<{
    like_count: number;
    user_reaction: string;
    reaction_counts: Record<string, number>;
  }>;

beforeAll(async () => {
  env = await createTestEnv("sqlite");
  mira = await registerUser(env, { username: "mira" });
  fan = await registerUser(env, { username: "fan" });
  loopId = await insertReadyPost(env, mira.auth.user.id, "Night drive");
});
afterAll(() => env.close());

describe("reactions from the browser", () => {
  test("the script's JSON: react, switch emoji, the same emoji again takes it back, remove=1; the reloaded page agrees", async () => {
    const b = await signedIn(fan);
    const home = await b.get("/");
    const csrf = csrfOf(home);
    expect(csrf).toBeTruthy();

    let res = await scriptPost(b, `/l/${loopId}/react`, { emoji: "🔥" }, csrf);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(body(res)).toEqual({ like_count: 1, is_liked: true, reaction_counts: { "🔥": 1 }, user_reaction: "🔥" });

    // The reloaded page shows the pressed button and the count.
    let page = await b.get("/?tab=global");
    expect(page.html).toMatch(/value="🔥" aria-pressed="true" data-emoji="🔥"><span>🔥<\/span> <span class="count">1<\/span>/);

    res = await scriptPost(b, `/l/${loopId}/react`, { emoji: "❤" }, csrf); // a bare heart is ❤️
    expect(body(res)).toEqual({ like_count: 1, is_liked: true, reaction_counts: { "❤️": 1 }, user_reaction: "❤️" });

    res = await scriptPost(b, `/l/${loopId}/react`, { emoji: "❤️" }, csrf); // the pressed one: a toggle
    expect(body(res)).toEqual({ like_count: 0, is_liked: false, reaction_counts: {}, user_reaction: "" });

    await scriptPost(b, `/l/${loopId}/react`, { emoji: "🚀" }, csrf);
    res = await scriptPost(b, `/l/${loopId}/react`, { remove: "1" }, csrf);
    expect(body(res)).toMatchObject({ like_count: 0, user_reaction: "" });
    page = await b.get("/?tab=global");
    expect(page.html).not.toContain('aria-pressed="true" data-emoji');
    expect((await apiPost(loopId, fan.auth.token)).like_count).toBe(0);

    // Not one of the six: the service's error, as the contract's JSON.
    await expectError(new Response((await scriptPost(b, `/l/${loopId}/react`, { emoji: "🍕" }, csrf)).html, { status: 400 }), 400, "invalid_emoji");
  });

  test("a plain form post (no script) answers 303 back to the page it came from, or to the loop's page", async () => {
    const b = await signedIn(fan);
    const home = await b.get("/");
    const res = await b.fetch(
      `/l/${loopId}/react`,
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", referer: "https://elsewhere.example/x" },
        body: new URLSearchParams({ csrf: csrfOf(home), emoji: "💯" }).toString(),
      },
      false,
    );
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/l/${loopId}`); // a foreign Referer is ignored
    const back = await b.fetch(
      `/l/${loopId}/react`,
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", referer: `${env.deps.config.PUBLIC_URL.replace(/\/$/, "")}/?tab=global` },
        body: new URLSearchParams({ csrf: csrfOf(home), emoji: "💯" }).toString(),
      },
      false,
    );
    expect(back.status).toBe(303);
    expect(back.headers.get("location")).toBe("/?tab=global");
    const next = await b.post(`/l/${loopId}/react`, { csrf: csrfOf(home), emoji: "🎵", next: "/?tab=trending" }, false);
    expect(next.headers.get("location")).toBe("/?tab=trending");
    expect((await apiPost(loopId, fan.auth.token)).user_reaction).toBe("🎵");
    const evil = await b.post(`/l/${loopId}/react`, { csrf: csrfOf(home), emoji: "🔥", next: "//evil.example/" }, false);
    expect(evil.headers.get("location")).toBe(`/l/${loopId}`);
    expect((await apiPost(loopId, fan.auth.token)).user_reaction).toBe("🔥");
    await b.post(`/l/${loopId}/react`, { csrf: csrfOf(home), remove: "1" }, false);
  });

  test("CSRF missing or wrong: 403 JSON (or a 303 for a plain form) and nothing changes", async () => {
    const b = await signedIn(fan);
    await b.get("/");
    await expectError(new Response((await scriptPost(b, `/l/${loopId}/react`, { emoji: "🔥" }, "")).html, { status: 403 }), 403, "csrf_failed");
    const wrong = await scriptPost(b, `/l/${loopId}/react`, { emoji: "🔥" }, "x".repeat(43));
    expect(wrong.status).toBe(403);
    expect(body(wrong).error).toBe("csrf_failed");
    // Another browser's token (no cookie here) is refused too.
    const other = new Browser(env, {});
    const token = csrfOf(await (await signedIn(mira)).get("/"));
    expect((await scriptPost(other, `/l/${loopId}/react`, { emoji: "🔥" }, token)).status).toBe(403);
    const plain = await b.post(`/l/${loopId}/react`, { emoji: "🔥" }, false);
    expect(plain.status).toBe(303);
    expect((await apiPost(loopId, fan.auth.token)).like_count).toBe(0);
  });

  test("signed out: 401 JSON for the script, the sign-in page (coming back) for a plain form", async () => {
    const b = new Browser(env);
    const page = await b.get("/signin");
    const csrf = csrfOf(page);
    const res = await scriptPost(b, `/l/${loopId}/react`, { emoji: "🔥" }, csrf);
    expect(res.status).toBe(401);
    expect(body(res).error).toBe("unauthorized");
    const plain = await b.post(`/l/${loopId}/react`, { csrf, emoji: "🔥" }, false);
    expect(plain.status).toBe(303);
    expect(plain.headers.get("location")).toBe(`/signin?next=${encodeURIComponent(`/l/${loopId}`)}`);
  });

  test("an unknown loop is 404; an API bearer token does not sign the browser in", async () => {
    const b = await signedIn(fan);
    const csrf = csrfOf(await b.get("/"));
    const res = await scriptPost(b, "/l/01900000-0000-7000-8000-000000000000/react", { emoji: "🔥" }, csrf);
    expect(res.status).toBe(404);
    expect(body(res).error).toBe("post_not_found");
    const bearer = new Browser(env, { authorization: `Bearer ${fan.auth.token}` });
    const page = await bearer.get("/signin");
    expect((await scriptPost(bearer, `/l/${loopId}/react`, { emoji: "🔥" }, csrfOf(page))).status).toBe(401);
  });
});

describe("follows from the browser", () => {
  test("follow and unfollow by username: JSON with the follower count, idempotent, the API agrees", async () => {
    const b = await signedIn(fan);
    const csrf = csrfOf(await b.get("/"));
    let res = await scriptPost(b, "/@mira/follow", { follow: "1" }, csrf);
    expect(res.status).toBe(200);
    expect(body(res)).toEqual({ is_following: true, follower_count: 1 });
    res = await scriptPost(b, "/@MIRA/follow", { follow: "1" }, csrf); // usernames are case-insensitive; a repeat changes nothing
    expect(body(res)).toEqual({ is_following: true, follower_count: 1 });
    const profile = await (await env.request("/api/v1/users/mira", { token: fan.auth.token })).json();
    expect(profile).toMatchObject({ is_following: true, follower_count: 1 });
    res = await scriptPost(b, "/@mira/follow", { follow: "0" }, csrf);
    expect(body(res)).toEqual({ is_following: false, follower_count: 0 });
    // A plain form goes back to the profile.
    const plain = await b.post("/@mira/follow", { csrf, follow: "1" }, false);
    expect(plain.status).toBe(303);
    expect(plain.headers.get("location")).toBe("/@mira");
    await b.post("/@mira/follow", { csrf, follow: "0" }, false);
  });

  test("refusals: yourself (the service's error), an unknown user, a bad field, CSRF, signed out", async () => {
    const b = await signedIn(fan);
    const csrf = csrfOf(await b.get("/"));
    let res = await scriptPost(b, "/@fan/follow", { follow: "1" }, csrf);
    expect(res.status).toBe(400);
    expect(body(res).error).toBe("cannot_follow_self");
    res = await scriptPost(b, "/@nobody_here/follow", { follow: "1" }, csrf);
    expect(res.status).toBe(404);
    expect(body(res).error).toBe("user_not_found");
    res = await scriptPost(b, "/@mira/follow", { follow: "yes" }, csrf);
    expect(res.status).toBe(400);
    expect(body(res).error).toBe("validation_error");
    res = await scriptPost(b, "/@mira/follow", { follow: "1" }, "wrong-token-wrong-token-wrong-token-12345");
    expect(res.status).toBe(403);
    expect((await scriptPost(new Browser(env), "/@mira/follow", { follow: "1" }, csrf)).status).toBe(403);
    const anon = new Browser(env);
    const anonCsrf = csrfOf(await anon.get("/signin"));
    expect((await scriptPost(anon, "/@mira/follow", { follow: "1" }, anonCsrf)).status).toBe(401);
    const profile = await (await env.request("/api/v1/users/mira", { token: fan.auth.token })).json();
    expect(profile).toMatchObject({ is_following: false, follower_count: 0 });
  });

  test("the FollowButton: a form with the CSRF token, the button named for the user, pressed when following", async () => {
    const off = await FollowButton({ username: "mira", following: false, csrf: "tok" });
    expect(off).toContain('action="/@mira/follow"');
    expect(off).toContain('data-follow="mira"');
    expect(off).toContain('name="csrf" value="tok"');
    expect(off).toContain('name="follow" value="1"');
    expect(off).toMatch(/aria-pressed="false" aria-label="Follow mira">Follow</);
    const on = await FollowButton({ username: "mira", following: true, csrf: "tok", next: "/l/x" });
    expect(on).toContain('name="follow" value="0"');
    expect(on).toContain('name="next" value="/l/x"');
    expect(on).toMatch(/aria-pressed="true" aria-label="Follow mira">Follow</);
  });
});

describe("rate limits", () => {
  test("reactions spend the API's per-user budget: the 121st in a minute is 429", async () => {
    const b = await signedIn(mira);
    const csrf = csrfOf(await b.get("/"));
    let last: Page | undefined;
    for (let i = 0; i < 121; i++) last = await scriptPost(b, `/l/${loopId}/react`, { remove: "1" }, csrf);
    expect(last!.status).toBe(429);
    expect(body(last!).error).toBe("rate_limited");
  });
});

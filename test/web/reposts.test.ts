// Reposts in the web app (README "Reposts"), in process: the loop page's 🔁 button as a plain form (303 back, the page
// then says Reposted and is aria-pressed) and as the script's JSON, the follower's timeline showing "🔁 reposted by
// @name" above the loop's card with the quote, the producer's page offering Pin instead, and the refusals: a wrong
// CSRF token or a signed-out visitor change nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { registerUser } from "../support/auth.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertFollow, insertReadyPost } from "../support/ready-posts.ts";

let env: TestEnv;
let mira: Awaited<ReturnType<typeof registerUser>>;
let friend: Awaited<ReturnType<typeof registerUser>>;
let fan: Awaited<ReturnType<typeof registerUser>>;
let loop: string;

async function signedIn(who: typeof fan) {
  const b = new Browser(env);
  await b.submit(await b.get("/signin"), { login: who.input.username, password: who.input.password });
  return b;
}
const reposts = async () => Number((await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM reposts`))[0]!.n);

beforeAll(async () => {
  env = await createTestEnv("sqlite");
  mira = await registerUser(env, { username: "mira" });
  friend = await registerUser(env, { username: "friend" });
  fan = await registerUser(env, { username: "fan" });
  await insertFollow(env, fan.auth.user.id, friend.auth.user.id);
  loop = await insertReadyPost(env, mira.auth.user.id, "Night drive");
});
afterAll(() => env.close());

describe("reposting from the web app", () => {
  test("the loop page's button reposts and takes it back; the follower's timeline says who reposted it", async () => {
    const b = await signedIn(friend);
    const page = await b.get(`/l/${loop}`);
    expect(page.html).toContain('aria-pressed="false">🔁 Repost</button>');
    const after = await b.post(`/l/${loop}/repost`, { csrf: csrfOf(page), repost: "1" });
    expect(after.url).toBe(`/l/${loop}`);
    expect(after.html).toContain('aria-pressed="true">🔁 Reposted to your followers</button>');
    expect(after.html).toContain("1 repost");

    const home = await (await signedIn(fan)).get("/?tab=timeline");
    const card = home.html.slice(home.html.indexOf(`data-post="${loop}"`));
    expect(card).toContain('🔁 reposted by <a href="/@friend">@friend</a>');
    expect(card.indexOf("reposted by")).toBeLessThan(card.indexOf("Night drive"));

    // The script's way: JSON back, and no value means toggle (here: take it back).
    const json = await b.fetch(
      `/l/${loop}/repost`,
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json", "x-csrf-token": csrfOf(page) },
        body: "",
      },
      false,
    );
    expect(JSON.parse(json.html)).toEqual({ is_reposted: false, repost_count: 0, quote: "" });
    expect((await (await signedIn(fan)).get("/?tab=timeline")).html).not.toContain(`data-post="${loop}"`);
  });

  test("a quote shows with the repost; the producer gets Pin, not Repost", async () => {
    expect((await env.request(`/api/v1/posts/${loop}/repost`, { method: "POST", token: friend.auth.token, json: { quote: "<b>late night</b>" } })).status).toBe(
      200,
    );
    const home = await (await signedIn(fan)).get("/?tab=timeline");
    expect(home.html).toContain("<q>&lt;b&gt;late night&lt;/b&gt;</q>");
    const own = await (await signedIn(mira)).get(`/l/${loop}`);
    expect(own.html).not.toContain("🔁 Repost");
    expect(own.html).toContain("📌 Pin to your profile");
  });

  test("Repost with a quote from the page: the quote shows to followers; too long is refused with the reason, nothing written", async () => {
    const other = await insertReadyPost(env, mira.auth.user.id, "Quoted loop");
    const b = await signedIn(friend);
    const page = await b.get(`/l/${other}`);
    expect(page.html).toContain("Repost with a quote");
    const before = await reposts();
    const long = await b.post(`/l/${other}/repost`, { csrf: csrfOf(page), repost: "1", quote: "x".repeat(281) });
    expect(long.url).toStartWith(`/l/${other}?error=`);
    expect(long.html).toContain("280");
    expect(await reposts()).toBe(before);
    const done = await b.post(`/l/${other}/repost`, { csrf: csrfOf(page), repost: "1", quote: "  this bassline <3  " });
    expect(done.html).toContain('aria-pressed="true">🔁 Reposted to your followers</button>');
    expect(done.html).not.toContain("Repost with a quote"); // reposted: only the button to take it back
    const home = await (await signedIn(fan)).get("/?tab=timeline");
    const card = home.html.slice(home.html.indexOf(`data-post="${other}"`));
    expect(card).toContain("this bassline &lt;3");
  });

  test("refused with a wrong CSRF token or signed out; the signed-out page offers sign-in instead", async () => {
    const before = await reposts();
    const b = await signedIn(fan);
    expect((await b.post(`/l/${loop}/repost`, { csrf: "forged", repost: "1" }, false)).status).toBe(303);
    const anon = new Browser(env);
    const page = await anon.get(`/l/${loop}`);
    expect(page.html).toContain(`href="/signin?next=%2Fl%2F${loop}">🔁 Sign in to repost</a>`);
    expect((await anon.post(`/l/${loop}/repost`, { csrf: "x", repost: "1" }, false)).status).toBe(303);
    expect(await reposts()).toBe(before);
  });
});

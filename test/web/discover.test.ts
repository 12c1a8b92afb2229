// The web app's discover page and the loop page's similar loops (README "Discover"), in process: genres with their
// counts as links, a genre's loops as the feeds' cards with "More loops" paging, producers you may like with Follow
// buttons (a plain form: follow, 303 back, the producer gone from the list), the popular list for visitors, the
// header's link, a loop page's "Similar loops" (never the loop itself), and bad input: a stale cursor, a genre that
// is markup.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { registerUser } from "../support/auth.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertFollow, insertPost, markReady } from "../support/ready-posts.ts";

let env: TestEnv;
type Member = Awaited<ReturnType<typeof registerUser>>;
let mira: Member;
let kai: Member;
let fan: Member;
let friend: Member;
const loops: string[] = [];
let jazz: string;

async function signedIn(who: Member) {
  const b = new Browser(env);
  await b.submit(await b.get("/signin"), { login: who.input.username, password: who.input.password });
  return b;
}

async function loop(user: Member, title: string, fields: Parameters<typeof insertPost>[3]) {
  const id = await insertPost(env, user.auth.user.id, title, fields);
  await markReady(env, id);
  env.clock.advance(1000);
  return id;
}

beforeAll(async () => {
  env = await createTestEnv("sqlite");
  mira = await registerUser(env, { username: "mira" });
  kai = await registerUser(env, { username: "kai" });
  fan = await registerUser(env, { username: "fan" });
  friend = await registerUser(env, { username: "friend" });
  for (let i = 0; i < 12; i++) loops.push(await loop(i % 2 ? kai : mira, `Lofi Loop ${i}`, { genres: ["Lofi"], bpm: 118 + (i % 5), key: "Am" }));
  jazz = await loop(kai, "Blue Jazz", { genres: ["Jazz"], bpm: 90, key: "D" });
  // fan follows friend, who follows mira and kai: both are producers fan may like.
  await insertFollow(env, fan.auth.user.id, friend.auth.user.id);
  await insertFollow(env, friend.auth.user.id, mira.auth.user.id);
  await insertFollow(env, friend.auth.user.id, kai.auth.user.id);
});
afterAll(() => env.close());

/** The loops of the cards in this HTML, in order (a card names its loop several times: title, player, labels). */
const titles = (html: string) => [...new Set([...html.matchAll(/Lofi Loop (\d+)/g)].map((m) => Number(m[1])))];

describe("the discover page", () => {
  test("genres with counts as links; a genre's loops as cards, newest first, More loops without repeats", async () => {
    const anon = new Browser(env);
    const home = await anon.get("/");
    expect(home.html).toContain('href="/discover"');
    const page = await anon.get("/discover");
    expect(page.status).toBe(200);
    expect(page.html).toContain("<h1>Discover</h1>");
    expect(page.html).toMatch(/href="\/discover\?genre=Lofi"[^>]*><span>Lofi<\/span> <span class="count">12 loops<\/span>/);
    expect(page.html).toContain('<span class="count">1 loop</span>');
    expect(page.html).not.toContain('id="genre-loops"');
    const first = await anon.get("/discover?genre=lofi");
    expect(first.html).toContain("Loops in lofi");
    expect(titles(first.html)).toEqual([11, 10, 9, 8, 7, 6, 5, 4, 3, 2]);
    expect(first.html).not.toContain("Blue Jazz");
    const more = /class="more button secondary" href="([^"]+)"/.exec(first.html)?.[1]?.replaceAll("&amp;", "&");
    expect(more).toStartWith("/discover?genre=lofi&cursor=");
    expect(titles((await anon.get(more!)).html)).toEqual([1, 0]);
    expect((await anon.get("/discover?genre=polka")).html).toContain("No loops in this genre.");
  });

  test("visitors see popular producers without buttons; members the producers they may like, and follow them", async () => {
    const anon = await new Browser(env).get("/discover");
    expect(anon.html).toContain("Popular producers");
    expect(anon.html).toContain('href="/@mira"');
    expect(anon.html).not.toContain('class="follow-form"');
    const b = await signedIn(fan);
    const page = await b.get("/discover");
    expect(page.html).toContain("Producers you may like");
    expect(page.html).toContain('action="/@kai/follow"');
    expect(page.html).toContain('action="/@mira/follow"');
    const after = await b.post("/@kai/follow", { csrf: csrfOf(page), follow: "1", next: "/discover" });
    expect(after.url).toBe("/discover");
    expect(after.html).not.toContain('action="/@kai/follow"');
    expect(after.html).toContain('action="/@mira/follow"');
  });

  test("bad input: a cursor that is not one is a 400 page; a genre that is markup is shown as text", async () => {
    const anon = new Browser(env);
    const stale = await anon.get("/discover?genre=lofi&cursor=nonsense");
    expect(stale.status).toBe(400);
    expect(stale.html).toContain("not valid any more");
    const markup = await anon.get(`/discover?genre=${encodeURIComponent("<script>alert(1)</script>")}`);
    expect(markup.status).toBe(200);
    expect(markup.html).not.toContain("<script>alert(1)</script>");
    expect(markup.html).toContain("&lt;script&gt;");
  });
});

describe("sign in to view", () => {
  test("while it is on, a visitor is sent to sign in; a member sees the page", async () => {
    const set = (on: boolean) => env.request("/api/v1/admin/settings", { method: "PUT", token: mira.auth.token, json: { sign_in_to_view: on } });
    expect((await set(true)).status).toBe(200);
    try {
      const res = await env.request("/discover?genre=lofi");
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe(`/signin?next=${encodeURIComponent("/discover?genre=lofi")}`);
      expect((await (await signedIn(fan)).get("/discover")).status).toBe(200);
    } finally {
      await set(false);
    }
  });
});

describe("a loop's similar loops", () => {
  test('the loop page lists up to six similar loops, never the loop itself, loops "More from" shows, nor another key or genre', async () => {
    const anon = new Browser(env);
    const page = await anon.get(`/l/${loops[0]}`);
    expect(page.html).toContain('<h2 id="similar-loops">Similar loops</h2>');
    const section = page.html.slice(page.html.indexOf('id="similar-loops"'));
    const similar = titles(section);
    // mira's other loops (2, 4, 6, 8, 10) are in "More from @mira" above, so not again; 4 and 9 are 122 BPM, too far.
    expect(titles(page.html.slice(page.html.indexOf('id="more-from"'), page.html.indexOf('id="similar-loops"')))).toEqual([10, 8, 6, 4, 2]);
    // Loop 0 is 118 BPM: the closest tempos first (5 is 118 too, then the 119s 11 and 1, then 7, then 3), newest
    // first among equals.
    expect(similar).toEqual([5, 11, 1, 7, 3]);
    expect(section).not.toContain("Blue Jazz");
    const lone = await anon.get(`/l/${jazz}`);
    expect(lone.html).not.toContain('id="similar-loops"');
  });
});

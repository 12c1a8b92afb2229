// The web app's search page (README "Search"): a GET form that works without JavaScript, loops as the feeds'
// cards, producers as profile links, paging by a "More loops" link, bad filters shown on the form (400), what was
// typed echoed escaped, and the header's link to it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { registerProducer, type Producer } from "../support/auth.ts";
import { insertReadyPost } from "../support/ready-posts.ts";

describe("web search page", () => {
  let env: TestEnv;
  let alice: Producer;

  beforeAll(async () => {
    env = await createTestEnv("sqlite");
    alice = await registerProducer(env, { username: "alicebeats", display_name: "Alice Keys" });
    for (let i = 0; i < 12; i++) {
      await insertReadyPost(env, alice.id, `Night Loop ${i}`);
      env.clock.advance(1000);
    }
    await insertReadyPost(env, alice.id, "Morning Dew");
  });
  afterAll(() => env.close());

  const page = async (path: string) => {
    const res = await env.request(path);
    return { status: res.status, html: await res.text(), type: res.headers.get("content-type") };
  };

  test("the empty page is the form; the header links to it on every page", async () => {
    const { status, html, type } = await page("/search");
    expect(status).toBe(200);
    expect(type).toContain("text/html");
    expect(html).toContain('<search><form method="get" action="/search"');
    expect(html).not.toContain('id="found-loops"');
    expect((await page("/")).html).toContain('href="/search"');
  });

  test("text finds loops as cards and producers as profile links; More loops pages on without repeats", async () => {
    const first = await page("/search?q=night");
    expect(first.status).toBe(200);
    expect((await page("/search?q=alice")).html).toContain('href="/@alicebeats"');
    const titles = (html: string) => [...html.matchAll(/Night Loop (\d+)/g)].map((m) => m[1]);
    const seen = new Set(titles(first.html));
    expect(seen.size).toBe(10);
    expect(first.html).not.toContain("Morning Dew");
    const more = /href="(\/search\?[^"]*cursor=[^"]+)"/.exec(first.html)?.[1]?.replaceAll("&amp;", "&");
    expect(more).toBeTruthy();
    const second = await page(more!);
    const next = new Set(titles(second.html));
    expect(next.size).toBe(2);
    for (const t of next) expect(seen.has(t)).toBe(false);
    expect(second.html).not.toContain('id="found-producers"');
  });

  test("filters in the form: BPM and key (the seeded loops are 120 BPM in A minor)", async () => {
    expect((await page("/search?q=morning&bpm_min=110&bpm_max=130&key=C")).html).toContain("Morning Dew");
    expect((await page("/search?q=morning&key=C&relative=false")).html).toContain("No loops found");
    expect((await page("/search?bpm_min=121")).html).toContain("No loops found");
  });

  test("a bad filter is shown on the form with a 400; what was typed comes back escaped", async () => {
    const bad = await page("/search?q=x&key=H%20minor&bpm_min=fast");
    expect(bad.status).toBe(400);
    expect(bad.html).toContain("Not a key");
    expect(bad.html).toContain("Must be a number from 0 to 999");
    expect(bad.html).toContain('aria-invalid="true"');
    const xss = await page(`/search?q=${encodeURIComponent('"><script>alert(1)</script>')}`);
    expect(xss.status).toBe(200);
    // Inside the quoted value: the quote is escaped, so nothing breaks out of the attribute.
    expect(xss.html).toContain('value="&#34;><script>alert(1)</script>"');
    expect(xss.html).not.toContain('value=""><script>');
  });
});

// The pages people share and what their links unfurl into (docs/architecture.md "Web app"), in process: the loop
// page and the profile, their Open Graph / Twitter / oEmbed / JSON-LD metadata, the framable embed, oEmbed JSON and
// the RSS feeds; hostile text stays text everywhere; what is not public is 404 everywhere.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { posts, users } from "../../src/db/schema.ts";
import { isoDuration, jsonLd } from "../../src/web/ui/share.tsx";
import { httpUrl } from "../../src/web/loop-routes.tsx";
import { registerUser } from "../support/auth.ts";
import { Browser } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertFollow, insertPost, insertReadyPost } from "../support/ready-posts.ts";

let env: TestEnv;
let base: string;
let mira: Awaited<ReturnType<typeof registerUser>>;
let fan: Awaited<ReturnType<typeof registerUser>>;
let loopId: string;
let hostileId: string;
let processingId: string;
let failedId: string;
const HOSTILE = `Dusk </script><script>alert(1)</script> "quoted" & <b>bold</b>`;

async function signedIn(who: typeof fan) {
  const b = new Browser(env);
  const page = await b.get("/signin");
  await b.submit(page, { login: who.input.username, password: who.input.password });
  return b;
}

/** Every <meta property|name content> of a page, read as a browser parses it. */
async function metaOf(html: string) {
  const meta = new Map<string, string>();
  const links: Record<string, string>[] = [];
  const scripts: { type: string | null; text: string }[] = [];
  let current: { type: string | null; text: string } | null = null;
  await new HTMLRewriter()
    .on("meta", {
      element: (e) => {
        const k = e.getAttribute("property") ?? e.getAttribute("name");
        if (k) meta.set(k, e.getAttribute("content") ?? "");
      },
    })
    .on("link", { element: (e) => void links.push(Object.fromEntries([...e.attributes])) })
    .on("script", {
      element: (e) => {
        current = { type: e.getAttribute("type"), text: "" };
        scripts.push(current);
      },
      text: (t) => {
        if (current) current.text += t.text;
      },
    })
    .transform(new Response(html))
    .text();
  return { meta, links, scripts };
}

beforeAll(async () => {
  env = await createTestEnv("sqlite", { INSTANCE_NAME: "Night <Shift>", PUBLIC_URL: "https://loops.example.com" });
  base = env.deps.config.PUBLIC_URL;
  mira = await registerUser(env, { username: "mira", display_name: "Mira <M> & co" });
  fan = await registerUser(env, { username: "fan" });
  await env.deps.database.db
    .update(users)
    .set({
      bio: "Loops at 2 am <i>sharp</i>",
      daw: "Bitwig",
      genre: "Lo-fi",
      website: "https://mira.example/",
      socialLinks: { instagram: "https://instagram.com/mira", evil: "javascript:alert(1)", handle: "just-a-name" },
    })
    .where(eq(users.id, mira.auth.user.id));
  for (let i = 0; i < 14; i++) await insertReadyPost(env, mira.auth.user.id, `Older ${i}`);
  hostileId = await insertReadyPost(env, mira.auth.user.id, HOSTILE);
  loopId = await insertReadyPost(env, mira.auth.user.id, "Midnight chords");
  await env.deps.database.db.update(posts).set({ bpm: 92, key: "A minor", durationBars: 8, durationSeconds: 20.87, playCount: 7 }).where(eq(posts.id, loopId));
  processingId = await insertPost(env, mira.auth.user.id, "Half baked");
  failedId = await insertPost(env, mira.auth.user.id, "Broken");
  await env.deps.database.db.update(posts).set({ status: "failed" }).where(eq(posts.id, failedId));
  // The MP3 of the shared loop is on disk, so its enclosure has a length.
  const [row] = await env.deps.database.db.select().from(posts).where(eq(posts.id, loopId));
  await env.deps.storage.put(row!.audioKey, new Uint8Array(1234), { contentType: "audio/mpeg" });
});
afterAll(() => env.close());

describe("the loop page", () => {
  test("the player, title, producer, facts, reactions, plays and more from the producer; cacheable for anonymous visitors", async () => {
    const res = await env.request(`/l/${loopId}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=30");
    const html = await res.text();
    expect(html).toContain("<title>Midnight chords · Night &lt;Shift&gt;</title>");
    expect(html).toContain('<h1 class="title">Midnight chords</h1>');
    expect(html).toContain(`data-player data-id="${loopId}"`);
    expect(html).toContain('aria-label="Play Midnight chords"');
    expect(html).toContain('href="/@mira">Mira &lt;M&gt; &amp; co</a>');
    for (const fact of ["92 BPM", "A minor", "8 bars, 0:21", "Ableton Live", "lofi"]) expect(html).toContain(`<dd>${fact}</dd>`);
    expect(html).toContain("7 plays");
    expect(html).toContain(">Sign in to react</a>");
    expect(html).toContain("More from @mira");
    const more = html.slice(html.indexOf('id="more-from"'));
    expect(more.match(/data-player /g)?.length).toBe(6);
    expect(more).not.toContain(`data-id="${loopId}"`);
    // A second visit is the cached page (same bytes).
    expect(await (await env.request(`/l/${loopId}`)).text()).toBe(html);
  });

  test("every share tag, with absolute URLs", async () => {
    const html = await (await env.request(`/l/${loopId}`)).text();
    const { meta, links, scripts } = await metaOf(html);
    const url = `${base}/l/${loopId}`;
    const [row] = await env.deps.database.db.select().from(posts).where(eq(posts.id, loopId));
    const mp3 = `${base}/media/${row!.audioKey}`;
    const png = `${base}/media/${row!.waveformPngKey}`;
    expect(Object.fromEntries(meta)).toMatchObject({
      "og:type": "music.song",
      "og:title": "Midnight chords",
      "og:description": "8 bars · 92 BPM · A minor · by @mira",
      "og:url": url,
      "og:site_name": "Night <Shift>",
      "og:image": png,
      "og:audio": mp3,
      "og:audio:type": "audio/mpeg",
      "music:duration": "21",
      "music:musician": `${base}/@mira`,
      "twitter:card": "player",
      "twitter:player": `${base}/embed/l/${loopId}`,
      "twitter:player:width": "480",
      "twitter:player:height": "120",
      description: "8 bars · 92 BPM · A minor · by @mira",
    });
    const oembed = links.find((l) => l.type === "application/json+oembed");
    expect(oembed?.href).toBe(`${base}/oembed?url=${encodeURIComponent(url)}&format=json`);
    expect(links.find((l) => l.rel === "canonical")?.href).toBe(url);
    const ld = scripts.find((s) => s.type === "application/ld+json");
    expect(JSON.parse(ld!.text)).toMatchObject({
      "@context": "https://schema.org",
      "@type": "MusicRecording",
      name: "Midnight chords",
      url,
      duration: "PT20.9S",
      byArtist: { "@type": "Person", name: "Mira <M> & co", url: `${base}/@mira` },
      audio: { contentUrl: mp3, encodingFormat: "audio/mpeg" },
      interactionStatistic: { userInteractionCount: 7 },
    });
    // The one script that runs is the bundle; JSON-LD is data, allowed under script-src 'self' without any hash.
    expect(scripts.filter((s) => s.type === "module").length).toBe(1);
  });

  test("a hostile title stays text: in meta attributes, in the heading, and it cannot close the JSON-LD script", async () => {
    const res = await env.request(`/l/${hostileId}`);
    const html = await res.text();
    // In attributes only the quote needs escaping (markup there is inert text); in text everything is escaped.
    expect(html).toContain('aria-label="Play Dusk </script><script>alert(1)</script> &#34;quoted&#34; & <b>bold</b>"');
    expect(html).toContain("Dusk &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;");
    const { meta, scripts } = await metaOf(html);
    // HTMLRewriter hands attributes over undecoded: the quote is the one character escaped there.
    const raw = HOSTILE.replaceAll('"', "&#34;");
    expect(meta.get("og:title")).toBe(raw);
    expect(meta.get("twitter:title")).toBe(raw);
    // Exactly two scripts as parsed: the bundle and the JSON-LD, whose text is the whole JSON.
    expect(scripts.map((s) => s.type)).toEqual(["module", "application/ld+json"]);
    const ld = scripts[1]!.text;
    expect(ld).not.toContain("<");
    expect(JSON.parse(ld).name).toBe(HOSTILE);
  });

  test("the loop page refuses to be framed", async () => {
    const res = await env.request(`/l/${loopId}`);
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
  });

  test("unknown, processing, failed and malformed ids are the 404 page for everyone but the owner, who sees 'still processing'", async () => {
    for (const id of ["00000000-0000-7000-8000-000000000000", processingId, failedId, "x".repeat(80), "%3Cscript%3E"]) {
      const res = await env.request(`/l/${id}`);
      expect({ id, status: res.status }).toEqual({ id, status: 404 });
      const html = await res.text();
      expect(html).toContain("<h1>Not found</h1>");
      expect(html).not.toContain("Half baked");
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    }
    const stranger = await signedIn(fan);
    expect((await stranger.get(`/l/${processingId}`)).status).toBe(404);
    const owner = await signedIn(mira);
    const page = await owner.get(`/l/${processingId}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("private, no-cache");
    expect(page.html).toContain("Still processing");
    expect(page.html).not.toContain("og:type");
    expect((await owner.get(`/l/${failedId}`)).html).toContain("could not be processed");
  });

  test("signed in: reaction forms with the CSRF token, the viewer's header, private caching", async () => {
    const b = await signedIn(fan);
    const page = await b.get(`/l/${loopId}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("private, no-cache");
    expect(page.html).toContain(`action="/l/${loopId}/react"`);
    expect(page.html).toMatch(/<meta name="csrf-token" content="[A-Za-z0-9_-]{32,}"\/>/);
    expect(page.html).toContain('href="/@fan"');
    expect(page.html).toContain('property="og:type" content="music.song"');
  });
});

describe("the profile page", () => {
  test("avatar, names, bio, DAW, genre, only http(s) links with rel=me nofollow ugc, counts, a follow link, loops with paging", async () => {
    const res = await env.request("/@mira");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=30");
    const html = await res.text();
    expect(html).toContain("<h1>Mira &lt;M&gt; &amp; co</h1>");
    expect(html).toContain("@mira");
    expect(html).toContain("Loops at 2 am &lt;i&gt;sharp&lt;/i&gt;");
    expect(html).toContain("<li>Bitwig</li>");
    expect(html).toContain("<li>Lo-fi</li>");
    expect(html).toContain('<a href="https://mira.example/" rel="me nofollow ugc">Website</a>');
    expect(html).toContain('<a href="https://instagram.com/mira" rel="me nofollow ugc">Instagram</a>');
    expect(html).not.toContain("javascript:");
    expect(html).not.toContain("just-a-name");
    expect(html).toContain("<strong>16</strong> <span>loops</span>");
    expect(html).toContain(`<strong data-follower-count="mira">0</strong> <span>followers</span>`);
    expect(html).toContain('href="/signin?next=%2F%40mira"');
    expect(html).toContain("Follow mira");
    // Strangers never see presence.
    expect(html).not.toMatch(/data-presence="[^"]+" title=/);
    expect(html.match(/data-player /g)?.length).toBe(12);
    expect(html).not.toContain("Half baked");
    const next = /href="(\/@mira\?cursor=[^"]+)" data-more/.exec(html)?.[1];
    expect(next).toBeDefined();
    const fragment = await (await env.request(next!, { headers: { "x-fragment": "1" } })).text();
    expect(fragment.startsWith('<li class="card loop"')).toBe(true);
    expect(fragment.match(/data-player /g)?.length).toBe(4);
    expect(fragment).not.toContain("data-more");
    const full = await (await env.request(next!)).text();
    expect(full).toContain("<header");
  });

  test("share tags: og:type profile, the canonical URL, the producer's RSS feed", async () => {
    const { meta, links } = await metaOf(await (await env.request("/@mira")).text());
    expect(Object.fromEntries(meta)).toMatchObject({
      "og:type": "profile",
      "og:title": "Mira <M> & co (@mira)",
      "og:url": `${base}/@mira`,
      "og:site_name": "Night <Shift>",
      "profile:username": "mira",
    });
    expect(links.find((l) => l.type === "application/rss+xml")?.href).toBe(`${base}/@mira/feed.rss`);
  });

  test("usernames match case-insensitively; ids, unknown names and bad cursors do not make pages", async () => {
    const upper = await env.request("/@MIRA");
    expect(upper.status).toBe(200);
    expect(await upper.text()).toContain(`<link rel="canonical" href="${base}/@mira"/>`);
    for (const path of ["/@nobody", `/@${mira.auth.user.id}`, "/@%3Cscript%3E"]) {
      const res = await env.request(path);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect((await metaOf(await res.text())).scripts.map((x) => x.type)).toEqual(["module"]);
    }
    const res = await env.request("/@mira?cursor=not-ours");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/@mira");
  });

  test("signed in: the follow form (named, pressed state, CSRF), presence only for followers, the owner's edit link", async () => {
    const b = await signedIn(fan);
    let page = await b.get("/@mira");
    expect(page.headers.get("cache-control")).toBe("private, no-cache");
    // The follow control is ui/follow.tsx's FollowButton (its markup is pinned in test/web/actions.test.ts).
    expect(page.html).toMatch(
      /<form class="follow-form" method="post" action="\/@mira\/follow" data-follow="mira"><input type="hidden" name="csrf" value="[A-Za-z0-9_-]{32,}"\/>/,
    );
    expect(page.html).toContain('<input type="hidden" name="follow" value="1" data-follow-value/>');
    expect(page.html).toMatch(/aria-pressed="false" aria-label="Follow mira">Follow<\/button>/);
    expect(page.html).toContain('data-follower-count="mira"');
    expect(page.html).not.toMatch(/data-presence="[^"]+" title=/);
    await insertFollow(env, fan.auth.user.id, mira.auth.user.id);
    page = await b.get("/@mira");
    expect(page.html).toContain('<input type="hidden" name="follow" value="0" data-follow-value/>');
    expect(page.html).toMatch(/aria-pressed="true" aria-label="Follow mira">Follow<\/button>/);
    expect(page.html).toContain(`<span class="presence offline" data-presence="${mira.auth.user.id}" title="Offline"></span>`);
    const fragment = await b.fetch("/@mira", { headers: { "x-fragment": "1" } });
    expect(fragment.html.startsWith('<li class="card loop"')).toBe(true);
    expect(fragment.html).toContain('name="csrf"');
    const owner = await signedIn(mira);
    const own = await owner.get("/@mira");
    expect(own.html).toContain('href="/settings"');
    expect(own.html).not.toContain("follow-form");
    expect((await owner.get("/@nobody")).status).toBe(404);
  });
});

describe("the embed", () => {
  test("the player alone, framable by any site, with a link to the loop page in a new tab", async () => {
    const res = await env.request(`/embed/l/${loopId}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors *");
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(res.headers.get("x-frame-options")).toBeNull();
    const html = await res.text();
    expect(html).not.toContain("<header");
    expect(html).not.toContain("<footer");
    expect(html).toContain(`data-player data-id="${loopId}"`);
    expect(html).toContain(`<a href="${base}/l/${loopId}" target="_blank" rel="noopener">Midnight chords</a>`);
    expect(html).toMatch(/<script type="module" src="\/assets\/app-[a-z0-9]+\.js">/);
    expect(html).toMatch(/<link rel="stylesheet" href="\/assets\/app-[a-z0-9]+\.css"/);
  });

  test("unknown, processing and hostile-titled loops", async () => {
    for (const id of [processingId, failedId, "nope"]) {
      const res = await env.request(`/embed/l/${id}`);
      expect(res.status).toBe(404);
      expect(res.headers.get("x-frame-options")).toBe("DENY");
    }
    const html = await (await env.request(`/embed/l/${hostileId}`)).text();
    const { scripts } = await metaOf(html);
    expect(scripts.map((x) => x.type)).toEqual(["module"]);
    expect(html).toContain("<title>Dusk &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
  });
});

describe("oEmbed", () => {
  const oembed = (url: string, extra = "") => env.request(`/oembed?url=${encodeURIComponent(url)}${extra}`);

  test("type rich with the embed iframe, sizes within maxwidth/maxheight", async () => {
    const res = await oembed(`${base}/l/${loopId}`, "&format=json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = await res.json();
    const [row] = await env.deps.database.db.select().from(posts).where(eq(posts.id, loopId));
    expect(body).toMatchObject({
      version: "1.0",
      type: "rich",
      title: "Midnight chords",
      author_name: "Mira <M> & co",
      author_url: `${base}/@mira`,
      provider_name: "Night <Shift>",
      provider_url: `${base}/`,
      width: 480,
      height: 120,
      thumbnail_url: `${base}/media/${row!.waveformPngKey}`,
    });
    expect(body.html).toBe(
      `<iframe src="${base}/embed/l/${loopId}" width="100%" height="120" frameborder="0" allow="autoplay" title="Midnight chords by @mira" loading="lazy"></iframe>`,
    );
    const small = await (await oembed(`${base}/l/${loopId}`, "&maxwidth=300&maxheight=80")).json();
    expect([small.width, small.height]).toEqual([300, 80]);
    expect(small.html).toContain('height="80"');
  });

  test("a hostile title is escaped inside the iframe's attributes", async () => {
    const body = await (await oembed(`${base}/l/${hostileId}`)).json();
    expect(body.title).toBe(HOSTILE);
    // Parsed as the consumer's page would: one iframe and nothing else, its title the whole text.
    const elements: { tag: string; title: string | null }[] = [];
    await new HTMLRewriter()
      .on("*", { element: (e) => void elements.push({ tag: e.tagName, title: e.getAttribute("title") }) })
      .transform(new Response(body.html))
      .text();
    expect(elements).toEqual([{ tag: "iframe", title: `${HOSTILE.replaceAll('"', "&#34;")} by @mira` }]);
  });

  test("foreign, unknown, unlisted and malformed URLs are 404 JSON; a format other than json is 501", async () => {
    for (const url of [
      `https://evil.example/l/${loopId}`,
      `${base}/l/${processingId}`,
      `${base}/l/00000000-0000-7000-8000-000000000000`,
      `${base}/@mira`,
      `${base}/embed/l/${loopId}`,
      "not a url",
    ]) {
      const res = await oembed(url);
      expect({ url, status: res.status }).toEqual({ url, status: 404 });
      expect((await res.json()).error).toBe("not_found");
    }
    const xml = await oembed(`${base}/l/${loopId}`, "&format=xml");
    expect(xml.status).toBe(501);
    expect((await xml.json()).error).toBe("format_not_implemented");
    expect((await env.request("/oembed")).status).toBe(400);
  });
});

describe("RSS", () => {
  const items = (xml: string) => [...xml.matchAll(/<item>([\s\S]*?)<\/item>/g)].map((m) => m[1]!);

  test("the instance's feed: RSS 2.0 with channel links, items with permalink guids, RFC 822 dates and MP3 enclosures", async () => {
    const res = await env.request("/feed.rss");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/rss+xml; charset=utf-8");
    const xml = await res.text();
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"')).toBe(true);
    expect(xml).toContain("<title>Night &lt;Shift&gt;</title>");
    expect(xml).toContain(`<link>${base}/</link>`);
    expect(xml).toContain(`<atom:link href="${base}/feed.rss" rel="self" type="application/rss+xml"/>`);
    const list = items(xml);
    expect(list.length).toBe(16);
    const [row] = await env.deps.database.db.select().from(posts).where(eq(posts.id, loopId));
    const mine = list.find((i) => i.includes(`<guid isPermaLink="true">${base}/l/${loopId}</guid>`))!;
    expect(mine).toContain("<title>Midnight chords</title>");
    expect(mine).toContain(`<link>${base}/l/${loopId}</link>`);
    expect(mine).toContain("<description>8 bars · 92 BPM · A minor · by @mira</description>");
    expect(mine).toContain("<dc:creator>Mira &lt;M&gt; &amp; co (@mira)</dc:creator>");
    expect(mine).toMatch(/<pubDate>[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT<\/pubDate>/);
    expect(mine).toContain(`<enclosure url="${base}/media/${row!.audioKey}" type="audio/mpeg" length="1234"/>`);
    for (const item of list) expect(item).toMatch(/<enclosure url="[^"]+\.mp3" type="audio\/mpeg" length="\d+"\/>/);
    expect(xml).not.toContain("Half baked");
    // Well formed as far as tags go: every element opened is closed, in order.
    const stack: string[] = [];
    for (const m of xml.replace(/<\?xml[^>]*\?>/, "").matchAll(/<(\/?)([a-zA-Z:]+)[^>]*?(\/?)>/g)) {
      if (m[3]) continue;
      if (m[1]) expect(stack.pop()).toBe(m[2]);
      else stack.push(m[2]!);
    }
    expect(stack).toEqual([]);
  });

  test("hostile titles are escaped, never markup or CDATA tricks", async () => {
    const xml = await (await env.request("/feed.rss")).text();
    expect(xml).toContain("<title>Dusk &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;</title>");
    expect(xml).not.toContain("<script>");
    expect(xml).not.toContain("<b>");
  });

  test("a producer's feed (case-insensitive), 404 for an unknown one, and the home page links the instance's feed", async () => {
    const res = await env.request("/@Mira/feed.rss");
    expect(res.status).toBe(200);
    const xml = await res.text();
    expect(xml).toContain("<title>Mira &lt;M&gt; &amp; co (@mira) on Night &lt;Shift&gt;</title>");
    expect(xml).toContain(`<atom:link href="${base}/@mira/feed.rss" rel="self" type="application/rss+xml"/>`);
    expect(items(xml).length).toBe(16);
    expect((await env.request("/@fan/feed.rss")).status).toBe(200);
    expect(items(await (await env.request("/@fan/feed.rss")).text())).toEqual([]);
    const missing = await env.request("/@nobody/feed.rss");
    expect(missing.status).toBe(404);
    expect((await missing.json()).error).toBe("user_not_found");
    const { links } = await metaOf(await (await env.request("/")).text());
    expect(links.find((l) => l.type === "application/rss+xml")?.href).toBe(`${base}/feed.rss`);
  });
});

describe("in the API document", () => {
  test("oEmbed and the feeds are documented under web; the pages are not", async () => {
    const doc = await (await env.request("/docs/json")).json();
    expect(doc.paths["/oembed"].get.tags).toEqual(["web"]);
    expect(doc.paths["/feed.rss"].get.tags).toEqual(["web"]);
    expect(Object.keys(doc.paths).some((p) => p.includes("feed.rss") && p.includes("username"))).toBe(true);
    expect(doc.paths["/l/{id}"]).toBeUndefined();
    expect(doc.paths["/embed/l/{id}"]).toBeUndefined();
  });
});

describe("helpers", () => {
  test("ISO 8601 durations, JSON-LD escaping and link schemes", () => {
    expect(isoDuration(16)).toBe("PT16S");
    expect(isoDuration(64.5)).toBe("PT1M4.5S");
    expect(isoDuration(120)).toBe("PT2M");
    expect(isoDuration(0)).toBe("PT0S");
    expect(jsonLd({ a: "</script>&\u2028" })).toBe('{"a":"\\u003c/script\\u003e\\u0026\\u2028"}');
    expect(httpUrl("javascript:alert(1)")).toBeNull();
    expect(httpUrl("data:text/html,x")).toBeNull();
    expect(httpUrl("nope")).toBeNull();
    expect(httpUrl(" https://a.example/x ")).toBe("https://a.example/x");
  });
});

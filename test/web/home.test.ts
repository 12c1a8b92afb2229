// The web app's frame and home page (docs/architecture.md "Web app"), in process: what an anonymous visitor and a
// signed-in producer get at /, the headers every page carries, paging with and without the client script, and the
// static files the binary carries (script, stylesheet, icons, manifest, robots.txt).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { registerUser } from "../support/auth.ts";
import { Browser } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertFollow, insertReadyPost } from "../support/ready-posts.ts";

let env: TestEnv;
let mira: Awaited<ReturnType<typeof registerUser>>;
let fan: Awaited<ReturnType<typeof registerUser>>;

async function signedIn(who: typeof fan) {
  const b = new Browser(env);
  const page = await b.get("/signin");
  await b.submit(page, { login: who.input.username, password: who.input.password });
  return b;
}

beforeAll(async () => {
  env = await createTestEnv("sqlite", { INSTANCE_NAME: "Night Shift", INSTANCE_DESCRIPTION: "Loops after dark <b>& friends</b>" });
  mira = await registerUser(env, { username: "mira" });
  fan = await registerUser(env, { username: "fan" });
  for (let i = 0; i < 12; i++) await insertReadyPost(env, mira.auth.user.id, `Loop ${i} <script>x</script>`);
});
afterAll(() => env.close());

describe("home page", () => {
  test("anonymous: the instance's name and description (escaped), trending first, loop cards with players, shared-cache friendly", async () => {
    const res = await env.request("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("public, max-age=30");
    expect(res.headers.get("vary")).toBe("cookie, accept-encoding");
    const html = await res.text();
    expect(html.startsWith('<!doctype html><html lang="en">')).toBe(true);
    expect(html).toContain("<title>Night Shift</title>");
    expect(html).toContain("Loops after dark &lt;b&gt;&amp; friends&lt;/b&gt;");
    expect(html).toContain("Loop 11 &lt;script&gt;x&lt;/script&gt;");
    expect(html).toMatch(/<a href="\/\?tab=trending" aria-current="page">Trending<\/a>/);
    expect(html.match(/data-player /g)?.length).toBe(10);
    // In attributes the quote is what must be escaped; markup there is inert text.
    expect(html).toContain('aria-label="Play Loop 11 <script>x</script>"');
    // Anonymous: reactions are links to sign in, not forms; no presence is shown to strangers.
    expect(html).not.toContain("/react");
    expect(html).toContain(">Sign in to react</a>");
    expect(html).not.toContain("in the studio");
  });

  test("every page refuses framing, runs only this origin's script and style, and sends no full Referer", async () => {
    const res = await env.request("/?tab=global");
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    // No inline script or style anywhere on the page (the CSP would block it), read as a browser parses it.
    const found = { inlineScripts: 0, scripts: 0, styles: 0 };
    await new HTMLRewriter()
      .on("script", { element: (e) => void (e.getAttribute("src") ? found.scripts++ : found.inlineScripts++) })
      .on("style, [style]", { element: () => void found.styles++ })
      .transform(new Response(await res.text()))
      .text();
    expect(found).toEqual({ inlineScripts: 0, scripts: 1, styles: 0 });
  });

  test("'More loops' pages through: a full page without the script, just the cards with x-fragment: 1", async () => {
    const first = await (await env.request("/?tab=global")).text();
    const next = /href="(\/\?tab=global&(?:amp;)?cursor=[^"]+)" data-more/.exec(first)?.[1]?.replaceAll("&amp;", "&");
    expect(next).toBeDefined();
    const page2 = await (await env.request(next!)).text();
    expect(page2).toContain("<header");
    expect(page2.match(/data-player /g)?.length).toBe(2);
    const fragment = await (await env.request(next!, { headers: { "x-fragment": "1" } })).text();
    expect(fragment).not.toContain("<header");
    expect(fragment.startsWith('<li class="card loop"')).toBe(true);
    expect(fragment.match(/data-player /g)?.length).toBe(2);
    expect(fragment).not.toContain("data-more");
  });

  test("a hand-edited cursor is the first page again, and an unknown tab is the default one", async () => {
    const res = await env.request("/?tab=global&cursor=not-ours");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/?tab=global");
    const html = await (await env.request("/?tab=bogus")).text();
    expect(html).toMatch(/aria-current="page">Trending</);
  });

  test("signed in: the timeline (everyone's latest until you follow someone), reaction forms with a CSRF token, private caching", async () => {
    const b = await signedIn(fan);
    let page = await b.get("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("private, no-cache");
    expect(page.html).toMatch(/aria-current="page">Following</);
    expect(page.html).toContain("You do not follow anyone yet");
    expect(page.html).toContain('action="/l/');
    expect(page.html).toMatch(/<input type="hidden" name="csrf" value="[A-Za-z0-9_-]{32,}"\/>/);
    expect(page.html).toMatch(/<meta name="csrf-token" content="[A-Za-z0-9_-]{32,}"\/>/);
    expect(page.html).toContain('href="/@fan"');
    expect(page.html).toContain("Upload");
    await insertFollow(env, fan.auth.user.id, mira.auth.user.id);
    page = await b.get("/");
    expect(page.html).not.toContain("You do not follow anyone yet");
    expect(page.html.match(/data-player /g)?.length).toBe(10);
    for (const tab of ["Latest", "Trending", "Discover"]) expect(page.html).toContain(`>${tab}</a>`);
  });
});

describe("static files", () => {
  test("the script and stylesheet have content-hashed names, are cached for a year and gzipped for browsers that take it", async () => {
    const html = await (await env.request("/")).text();
    const js = /<script type="module" src="(\/assets\/app-[a-z0-9]+\.js)"/.exec(html)?.[1];
    const css = /<link rel="stylesheet" href="(\/assets\/app-[a-z0-9]+\.css)"/.exec(html)?.[1];
    expect(js && css).toBeTruthy();
    const plain = await env.request(css!);
    expect(plain.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(plain.headers.get("content-type")).toBe("text/css; charset=utf-8");
    const text = await plain.text();
    expect(text).toContain("prefers-color-scheme:dark");
    const zipped = await env.request(js!, { headers: { "accept-encoding": "gzip, br" } });
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    expect(zipped.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect((await env.request("/assets/app-0000000000.js")).status).toBe(404);
  });

  test("installable: a manifest naming the instance, with PNG icons of the sizes it says; robots.txt keeps crawlers off accounts", async () => {
    const manifest = await (await env.request("/manifest.webmanifest")).json();
    expect(manifest).toMatchObject({ name: "Night Shift", start_url: "/", display: "standalone" });
    for (const icon of manifest.icons as { src: string; sizes: string }[]) {
      const res = await env.request(icon.src);
      expect(res.headers.get("content-type")).toBe("image/png");
      const png = new DataView(await res.arrayBuffer());
      expect(png.getUint32(0)).toBe(0x89504e47);
      expect(`${png.getUint32(16)}x${png.getUint32(20)}`).toBe(icon.sizes);
    }
    const robots = await (await env.request("/robots.txt")).text();
    expect(robots).toContain("Disallow: /settings");
    expect(robots).toContain("Allow: /");
    expect((await env.request("/favicon.svg")).headers.get("content-type")).toBe("image/svg+xml");
  });
});

describe("compression", () => {
  test("a cached anonymous page is gzipped for a browser that accepts it (once per page), identity otherwise; signed-in pages are never shared", async () => {
    const plain = await env.request("/?tab=global");
    const text = await plain.text();
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(plain.headers.get("vary")).toBe("cookie, accept-encoding");
    const zipped = await env.request("/?tab=global", { headers: { "accept-encoding": "gzip, deflate, br" } });
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    const bytes = new Uint8Array(await zipped.arrayBuffer());
    expect(new TextDecoder().decode(Bun.gunzipSync(bytes))).toBe(text);
    expect(bytes.length).toBeLessThan(text.length / 4);
    expect(env.deps.caches.pageGzip.get(text.slice("<!doctype html>".length))).toBeDefined();
  });
});

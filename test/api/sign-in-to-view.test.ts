// "Sign in to view" (README "Sign in to view"): while the setting is on, a stranger gets nothing of the community:
// every public route of the app is walked (the API's 401 sign_in_required, the pages' 303 to the sign-in page, RSS
// and oEmbed 401, the embed player a page naming no loop), media by a plain URL is 401 and a forged or expired
// signed URL 403; a member gets everything, with media URLs signed for the hour. The switch takes effect at once both
// ways (no restart, no page or feed served from a cache made before it), and with S3 the media route hands out
// presigned URLs, even with a CDN configured.
//
// Why signed URLs rather than a session header on media: the plugin fetches audio with
// NetworkClient::makeAbsoluteRequestSync(url, "GET", {}, /* requireAuth */ false, ...) in
// plugin/src/audio/HttpAudioPlayer.cpp (and waveform images likewise in plugin/src/ui/common/WaveformImageView.cpp)
// of the plugin's repository: no Authorization header is sent on media fetches.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { expectError, registerUser } from "../support/auth.ts";
import { Browser } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertReadyPost } from "../support/ready-posts.ts";
import { startS3rver, type S3rverHandle } from "../support/s3.ts";
import { freePort } from "../support/net.ts";

type User = Awaited<ReturnType<typeof registerUser>>;
type FeedPost = { id: string; audio_url: string; mp3_url: string; waveform_url: string };

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);
const MP3 = new Uint8Array([0xff, 0xfb, 0x90, 0x64, 5, 6, 7, 8, 9, 10]);

/** Sets the switch as an owner does, through the admin API. */
async function setView(env: TestEnv, owner: User, on: boolean) {
  const res = await env.request("/api/v1/admin/settings", { method: "PUT", token: owner.auth.token, json: { sign_in_to_view: on } });
  expect(res.status).toBe(200);
}

/** A ready loop whose media objects are really stored. */
async function loopWithMedia(env: TestEnv, userId: string, title: string): Promise<string> {
  const id = await insertReadyPost(env, userId, title);
  const key = (ext: string) => `loops/${id}/${"0".repeat(32)}.${ext}`;
  await env.deps.storage.put(key("png"), PNG);
  await env.deps.storage.put(key("ogg"), MP3);
  await env.deps.storage.put(key("mp3"), MP3);
  return id;
}

const pathOf = (url: string) => url.replace(/^https?:\/\/[^/]+/, "");

async function signedIn(env: TestEnv, who: User) {
  const b = new Browser(env);
  await b.submit(await b.get("/signin"), { login: who.input.username, password: who.input.password });
  return b;
}

describe("sign in to view (local storage)", () => {
  let env: TestEnv;
  let owner: User;
  let mira: User;
  let loopId: string;

  beforeAll(async () => {
    env = await createTestEnv("sqlite", { INSTANCE_NAME: "Night Shift", INSTANCE_DESCRIPTION: "Loops after dark" });
    owner = await registerUser(env, { username: "boss" });
    mira = await registerUser(env, { username: "mira" });
    loopId = await loopWithMedia(env, mira.auth.user.id, "Secret drive");
    const rules = await env.request("/api/v1/admin/settings", { method: "PUT", token: owner.auth.token, json: { rules: "Post your own loops." } });
    expect(rules.status).toBe(200);
  });
  afterAll(() => env.close());

  test("off (the default): strangers read feeds, pages and media by plain URLs", async () => {
    const feed = (await (await env.request("/api/v1/feed/global")).json()) as { posts: FeedPost[] };
    expect(feed.posts[0]!.id).toBe(loopId);
    expect(feed.posts[0]!.audio_url).not.toContain("sig=");
    expect((await env.request(pathOf(feed.posts[0]!.waveform_url))).status).toBe(200);
    // The anonymous pages are now in the page cache: the switch below must not serve them.
    expect(await (await env.request(`/l/${loopId}`)).text()).toContain("Secret drive");
    expect(await (await env.request("/")).text()).toContain("Secret drive");
  });

  test("on: every public route refuses a stranger, and nothing names the loop", async () => {
    const plain = ((await (await env.request("/api/v1/feed/global")).json()) as { posts: FeedPost[] }).posts[0]!;
    await setView(env, owner, true);
    const paramsFor: Record<string, string> = { id: loopId, username: "mira", post_id: loopId, provider: "google", file: "x", name: "x", token: "x" };
    // Reachable by anyone, on or off: what a stranger needs to sign in or join, and the server's own plumbing.
    const open =
      /^\/(?:docs|reset-password|set-password|signin|signout|verify-email|not-my-account|device|register|invite\/|assets\/|icons\/|manifest|robots|favicon|health|livez|readyz|export\/|api\/v1\/(?:instance|auth\/|ws))/;
    const walked: string[] = [];
    for (const route of env.app.routes as { method: string; path: string }[]) {
      if (route.method !== "GET" && route.method !== "ALL") continue;
      if (open.test(route.path)) continue;
      const path = route.path.replace(/:(\w+)/g, (_, p: string) => paramsFor[p] ?? "x").replace("*", pathOf(plain.waveform_url).slice("/media/".length));
      const res = await env.request(path);
      const text = await res.text();
      walked.push(`${path} ${res.status}`);
      expect(text).not.toContain("Secret drive");
      if (res.status === 303) expect(res.headers.get("location")!).toStartWith("/signin?next=");
      // A request the route's schema refuses (oEmbed without its url) is refused before anything is looked up.
      else if (res.status === 400) expect(JSON.parse(text).error).toBe("validation_error");
      else expect(res.status).toBe(401);
    }
    // The families the issue names are among the routes walked.
    for (const p of ["/api/v1/feed/global", "/api/v1/posts/", "/api/v1/users/", "/l/", "/@mira", "/feed.rss", "/oembed", "/embed/l/", "/media/"]) {
      expect(walked.some((w) => w.startsWith(p))).toBe(true);
    }

    await expectError(await env.request("/api/v1/feed/global"), 401, "sign_in_required");
    await expectError(await env.request(`/api/v1/posts/${loopId}`), 401, "sign_in_required");
    await expectError(await env.request(`/api/v1/users/${mira.auth.user.id}/posts`), 401, "sign_in_required");
    await expectError(await env.request(`/oembed?url=${encodeURIComponent(`${env.deps.config.PUBLIC_URL}/l/${loopId}`)}`), 401, "sign_in_required");
    await expectError(await env.request("/@mira/feed.rss"), 401, "sign_in_required");
    // Media by the plain URL handed out before the switch, and by a URL with no signature.
    await expectError(await env.request(pathOf(plain.audio_url)), 401, "sign_in_required");
    // Pages: the sign-in page with `next`, answered fresh (no cached page behind it) and never cached itself.
    const loop = await env.request(`/l/${loopId}?from=share`);
    expect(loop.status).toBe(303);
    expect(loop.headers.get("location")).toBe(`/signin?next=${encodeURIComponent(`/l/${loopId}?from=share`)}`);
    expect(loop.headers.get("cache-control")).toBe("no-store");
    expect((await env.request("/")).headers.get("location")).toBe(`/signin?next=${encodeURIComponent("/")}`);
    // The embed player stays frameable but names no loop (no title, no image, no audio).
    const embed = await env.request(`/embed/l/${loopId}`);
    expect(embed.status).toBe(401);
    const embedHtml = await embed.text();
    expect(embedHtml).not.toContain("og:image");
    expect(embedHtml).not.toContain("/media/");
    expect(embed.headers.get("x-frame-options")).toBeNull();
    // The sign-in page still says whose community this is.
    const signin = await (await env.request(`/signin?next=${encodeURIComponent(`/l/${loopId}`)}`)).text();
    expect(signin).toContain("Night Shift");
    expect(signin).toContain("Loops after dark");
    expect(signin).toContain("Post your own loops.");
    // The API's instance description too: the plugin's sign-in screen needs the name.
    expect(((await (await env.request("/api/v1/instance")).json()) as { sign_in_to_view: boolean }).sign_in_to_view).toBe(true);
  });

  test("on: a member reads everything, with media URLs signed for the hour; forged, moved and expired ones are refused", async () => {
    const feed = (await (await env.request("/api/v1/feed/global", { token: mira.auth.token })).json()) as { posts: FeedPost[] };
    const post = feed.posts[0]!;
    expect(post.audio_url).toMatch(/\/media\/loops\/.+\.ogg\?exp=\d+&sig=[\w-]{22}$/);
    const audio = await env.request(pathOf(post.audio_url));
    expect(audio.status).toBe(200);
    expect(new Uint8Array(await audio.arrayBuffer())).toEqual(MP3);
    expect(audio.headers.get("cache-control")).toMatch(/^private, max-age=\d+$/);
    // The same URL all hour (cacheable pages and feeds), valid for 2 to 3 hours.
    const again = (await (await env.request(`/api/v1/posts/${loopId}`, { token: owner.auth.token })).json()) as FeedPost;
    expect(again.audio_url).toBe(post.audio_url);
    const exp = Number(new URL(post.audio_url).searchParams.get("exp"));
    expect(exp * 1000 - env.clock.now()).toBeGreaterThan(2 * 3600_000);
    expect(exp * 1000 - env.clock.now()).toBeLessThanOrEqual(3 * 3600_000);

    const url = new URL(post.audio_url);
    const sig = url.searchParams.get("sig")!;
    const tampered = `${url.pathname}?exp=${exp}&sig=${sig.slice(0, -2)}${sig.endsWith("AA") ? "BB" : "AA"}`;
    await expectError(await env.request(tampered), 403, "media_link_invalid");
    await expectError(await env.request(`${url.pathname}?exp=${exp + 3600}&sig=${sig}`), 403, "media_link_invalid");
    // The signature of one object does not open another.
    await expectError(await env.request(`${pathOf(post.waveform_url).split("?")[0]}?exp=${exp}&sig=${sig}`), 403, "media_link_invalid");
    await expectError(await env.request(`${url.pathname}?sig=${sig}`), 403, "media_link_invalid");

    // Three hours and a bit later the URL is dead; the feed (no write meanwhile) hands out a fresh one that works.
    const start = env.clock.now();
    env.clock.set(exp * 1000 + 1);
    await expectError(await env.request(pathOf(post.audio_url)), 403, "media_link_expired");
    const fresh = ((await (await env.request("/api/v1/feed/global", { token: mira.auth.token })).json()) as { posts: FeedPost[] }).posts[0]!;
    expect(fresh.audio_url).not.toBe(post.audio_url);
    expect((await env.request(pathOf(fresh.audio_url))).status).toBe(200);
    env.clock.set(start);

    // In the browser: the pages, with their share card, and signed media on them.
    const b = await signedIn(env, mira);
    const page = await b.get(`/l/${loopId}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain("Secret drive");
    const src = /<audio [^>]*src="([^"]+)"/.exec(page.html)![1]!.replaceAll("&amp;", "&").replaceAll("&#38;", "&");
    expect(src).toMatch(/\/media\/.+\.mp3\?exp=\d+&sig=/);
    expect((await env.request(pathOf(src))).status).toBe(200);
    expect((await b.get("/")).html).toContain("Secret drive");
    expect((await b.get("/@mira")).status).toBe(200);
  });

  test("off again: at once, strangers read the pages (not a stale redirect) and plain URLs work", async () => {
    const signed = ((await (await env.request("/api/v1/feed/global", { token: mira.auth.token })).json()) as { posts: FeedPost[] }).posts[0]!;
    await setView(env, owner, false);
    const feed = (await (await env.request("/api/v1/feed/global")).json()) as { posts: FeedPost[] };
    expect(feed.posts[0]!.audio_url).not.toContain("sig=");
    expect((await env.request(pathOf(feed.posts[0]!.audio_url))).status).toBe(200);
    expect((await env.request(pathOf(feed.posts[0]!.audio_url))).headers.get("cache-control")).toContain("immutable");
    // A signed URL handed out while it was on still works (it is the same object, now public).
    expect((await env.request(pathOf(signed.audio_url))).status).toBe(200);
    const loop = await env.request(`/l/${loopId}`);
    expect(loop.status).toBe(200);
    expect(await loop.text()).toContain("Secret drive");
    // And on again: the plain URL stops working at once.
    await setView(env, owner, true);
    await expectError(await env.request(pathOf(feed.posts[0]!.audio_url)), 401, "sign_in_required");
    expect((await env.request(`/l/${loopId}`)).status).toBe(303);
    await setView(env, owner, false);
  });

  test("the command line's switch takes effect without a restart, like the admin API's", async () => {
    const { sidechain } = await import("../support/cli.ts");
    const plain = ((await (await env.request("/api/v1/feed/latest")).json()) as { posts: FeedPost[] }).posts[0]!;
    const on = await sidechain({ DATA_DIR: env.deps.config.DATA_DIR }, "settings", "set", "sign_in_to_view=yes");
    expect(on.code).toBe(0);
    await expectError(await env.request("/api/v1/feed/latest"), 401, "sign_in_required");
    expect((await env.request("/@mira")).status).toBe(303);
    // Media follow a switch made by another process within a second (src/web/sign-in-to-view.ts).
    env.clock.advance(1000);
    await expectError(await env.request(pathOf(plain.audio_url)), 401, "sign_in_required");
    const member = ((await (await env.request("/api/v1/feed/latest", { token: mira.auth.token })).json()) as { posts: FeedPost[] }).posts[0]!;
    expect(member.audio_url).toContain("&sig=");
    const off = await sidechain({ DATA_DIR: env.deps.config.DATA_DIR }, "settings", "set", "sign_in_to_view=no");
    expect(off.code).toBe(0);
    expect((await env.request("/api/v1/feed/latest")).status).toBe(200);
  });
});

describe("sign in to view with S3 storage and a CDN", () => {
  let s3: S3rverHandle;
  let env: TestEnv;
  let owner: User;
  let loopId: string;

  beforeAll(async () => {
    s3 = await startS3rver("sidechain-view");
    const port = await freePort();
    // s3rver serves objects to anonymous GETs, so the bucket's own URL stands in for a public CDN in front of it.
    env = await createTestEnv("sqlite", { PUBLIC_URL: `http://127.0.0.1:${port}`, ...s3.env, CDN_BASE_URL: `${s3.endpoint}/${s3.bucket}` });
    owner = await registerUser(env, { username: "boss" });
    const mira = await registerUser(env, { username: "mira" });
    loopId = await loopWithMedia(env, mira.auth.user.id, "Bucket loop");
  });
  afterAll(async () => {
    await env.close();
    await s3.stop();
  });

  test("off: URLs point at the CDN; on: at this server, signed, which redirects to a presigned URL of the bucket", async () => {
    const off = (await (await env.request(`/api/v1/posts/${loopId}`)).json()) as FeedPost;
    expect(off.waveform_url).toStartWith(`${s3.endpoint}/${s3.bucket}/`);
    await setView(env, owner, true);
    const on = (await (await env.request(`/api/v1/posts/${loopId}`, { token: owner.auth.token })).json()) as FeedPost;
    expect(on.waveform_url).toStartWith(`${env.deps.config.PUBLIC_URL}/media/`);
    const redirect = await env.request(pathOf(on.waveform_url));
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get("location")!;
    expect(location).toContain("X-Amz-Signature=");
    const object = await fetch(location);
    expect(object.status).toBe(200);
    expect(new Uint8Array(await object.arrayBuffer())).toEqual(PNG);
    // A stranger gets no redirect at all.
    await expectError(await env.request(`/media/${on.waveform_url.split("/media/")[1]!.split("?")[0]}`), 401, "sign_in_required");
    await expectError(await env.request(`/api/v1/posts/${loopId}`), 401, "sign_in_required");
  });
});

// The plugin's small asks of issue #11 (items 4, 7 and 9), each driven the way the plugin sends it (JUCE: GET when
// there is no body, `Content-Type: application/json` on every request, bearer token). Plugin files cited per test
// are in the public repository zfogg/sidechain, folder plugin/.
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { posts } from "../../src/db/schema.ts";
import { loadConfig } from "../../src/config.ts";
import { listenAddresses, start } from "../../src/index.ts";
import { registerProcessLoop } from "../../src/audio/process-loop.ts";
import { downloadFilename, downloadKeyOf } from "../../src/posts/download.ts";
import { isPluginDelete } from "../../src/posts/routes.ts";
import { lavfi, signals, decode } from "../support/audio.ts";
import { expectError, expectOk, json, registerProducer, type Producer } from "../support/auth.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertReadyPost } from "../support/ready-posts.ts";

const work = mkdtempSync(join(tmpdir(), "sc-plugin-small-"));
let drumsWav: string;
let drumsFlac: string;
beforeAll(async () => {
  drumsWav = await lavfi(join(work, "drums.wav"), signals.drums(2), ["-c:a", "pcm_s16le", "-metadata", "comment=C:/Users/me/secret project.als", "-f", "wav"]);
  drumsFlac = await lavfi(join(work, "drums.flac"), signals.drums(2), ["-c:a", "flac", "-f", "flac"]);
}, 60_000);

let env: TestEnv;
afterEach(() => env?.close());

/** A request as the plugin's NetworkClient::makeRequestWithRetry sends it (src/network/NetworkClient.cpp). */
const plugin = (path: string, token: string, body?: unknown) =>
  env.request(`/api/v1${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    token,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

describe("item 9: the default HOST serves localhost on IPv4 and IPv6", () => {
  test("HOST defaults to localhost, which means both loopbacks", () => {
    expect(loadConfig({}).HOST).toBe("localhost");
    expect(listenAddresses("localhost")).toEqual(["127.0.0.1", "::1"]);
    expect(listenAddresses("LOCALHOST")).toEqual(["127.0.0.1", "::1"]);
    expect(listenAddresses("0.0.0.0")).toEqual(["0.0.0.0"]);
    expect(listenAddresses("::")).toEqual(["::"]);
  });

  test("with the default config, http://127.0.0.1:PORT and http://[::1]:PORT both answer, and both stop", async () => {
    const running = await start(loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), "sc-host-")), PORT: "0", LOG_LEVEL: "error" }));
    const port = running.server.port;
    try {
      expect(running.servers.map((s) => s.port)).toEqual([port, port]);
      for (const host of ["127.0.0.1", "[::1]"]) {
        const res = await fetch(`http://${host}:${port}/health`);
        expect(await res.json()).toEqual({ status: "ok" });
      }
    } finally {
      await running.stop();
    }
    for (const host of ["127.0.0.1", "[::1]"]) await expect(fetch(`http://${host}:${port}/health`)).rejects.toThrow();
  });

  test("a port taken on ::1 by another program stops the start (a client trying ::1 first would reach it), and frees 127.0.0.1", async () => {
    const squatter = Bun.serve({ hostname: "::1", port: 0, fetch: () => new Response("someone else") });
    const port = squatter.port!;
    try {
      const config = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), "sc-host-")), PORT: String(port), LOG_LEVEL: "error" });
      await expect(start(config)).rejects.toMatchObject({ code: "EADDRINUSE" });
      await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    } finally {
      squatter.stop(true);
    }
  });
});

describe("item 7: small plugin calls", () => {
  let p: Producer;
  const setup = async (extra: Record<string, string> = {}) => {
    env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost", ...extra });
    p = await registerProducer(env);
  };

  test("POST /recommendations/click as NetworkClient::trackRecommendationClick sends it (FeedClient.cpp) answers success", async () => {
    await setup();
    const postId = await insertReadyPost(env, p.id);
    expect(
      await expectOk(
        await plugin("/recommendations/click", p.token, { post_id: postId, source: "trending", position: 3, completed: false, play_duration: 4.5 }),
      ),
    ).toEqual({ ok: true });
    expect(await expectOk(await plugin("/recommendations/click", p.token, { post_id: postId, source: "global", position: 0, completed: true }))).toEqual({
      ok: true,
    });
    // bad input and no token are refused in the contract's shape
    await expectError(await plugin("/recommendations/click", p.token, { source: "x" }), 400, "validation_error");
    await expectError(await plugin("/recommendations/click", p.token, { post_id: postId, position: -1 }), 400, "validation_error");
    await expectError(await plugin("/recommendations/click", p.token, { post_id: postId, play_duration: -1 }), 400, "validation_error");
    await expectError(await env.request("/api/v1/recommendations/click", { method: "POST", json: { post_id: postId } }), 401, "unauthorized");
  });

  test("/feed/popular and /feed/latest are the trending and global feeds", async () => {
    await setup();
    const a = await insertReadyPost(env, p.id, "first");
    env.clock.advance(1000);
    const b = await insertReadyPost(env, p.id, "second");
    const ids = async (path: string) =>
      (await expectOk(await plugin(path, p.token))).posts?.map((x: { id: string }) => x.id) ??
      (await expectOk(await plugin(path, p.token))).activities.map((x: { id: string }) => x.id);
    expect(await ids("/feed/latest?limit=10&offset=0")).toEqual(await ids("/feed/global?limit=10&offset=0"));
    expect(await ids("/feed/latest?limit=10&offset=0")).toEqual([b, a]);
    expect(await ids("/feed/popular?limit=10&offset=0")).toEqual(await ids("/feed/trending?limit=10&offset=0"));
    await expectError(await plugin("/feed/popular?limit=0", p.token), 400, "validation_error");
  });

  test("an OAuth start for a provider that is not configured fails the plugin's poll session, so its poll stops", async () => {
    await setup(); // no Google or Discord configured
    const sid = "0123456789abcdef0123456789abcdef";
    // before: the plugin polls "pending" (the browser has not reached the start URL yet)
    expect(await json(await env.request(`/api/v1/auth/oauth/poll?session_id=${sid}`))).toEqual({ status: "pending" });
    const res = await env.request(`/api/v1/auth/google?session_id=${sid.toUpperCase()}`);
    await expectError(res, 404, "provider_disabled");
    expect(await json(await env.request(`/api/v1/auth/oauth/poll?session_id=${sid}`))).toEqual({
      status: "error",
      message: "Google sign-in is not configured on this server",
    });
    // a second start with the same id changes nothing; a malformed id registers nothing
    await expectError(await env.request(`/api/v1/auth/discord?session_id=${sid}`), 404, "provider_disabled");
    expect(await json(await env.request(`/api/v1/auth/oauth/poll?session_id=${sid}`))).toEqual({
      status: "error",
      message: "Google sign-in is not configured on this server",
    });
    await expectError(await env.request(`/api/v1/auth/google?session_id=../../x`), 404, "provider_disabled");
  });

  test("a filename from a title is safe in any DAW folder", () => {
    expect(downloadFilename("Midnight chords")).toBe("Midnight chords.wav");
    expect(downloadFilename("../../etc/passwd")).toBe("etc passwd.wav");
    expect(downloadFilename("..\\..\\boot.ini")).toBe("boot ini.wav");
    expect(downloadFilename("...")).toBe("Sidechain loop.wav");
    expect(downloadFilename("CON")).toBe("Sidechain loop.wav");
    expect(downloadFilename("Bière & ünïcode (v2)")).toBe("Bière ünïcode (v2).wav");
    expect(downloadFilename("x".repeat(300))).toBe(`${"x".repeat(80)}.wav`);
    expect(downloadKeyOf("loops/abc/0123-original.flac")).toBe("loops/abc/0123-download.wav");
    expect(downloadKeyOf("loops/abc/0123.wav")).toBe("loops/abc/0123-download.wav");
  });

  test("download (DownloadClient.cpp getPostDownloadInfo: empty-body POST → GET): a WAV of the original, file name, metadata; rendered once, deleted with the post", async () => {
    await setup();
    const listener = await registerProducer(env);
    for (const [source, format] of [
      [drumsWav, "wav"],
      [drumsFlac, "flac"],
    ] as const) {
      const id = await insertReadyPost(env, p.id, `Night drums ${format}`);
      const originalKey = `loops/${id}/${"0".repeat(32)}.${format}`;
      await env.deps.database.db.update(posts).set({ originalKey, originalFormat: format }).where(eq(posts.id, id));
      await env.deps.storage.put(originalKey, Bun.file(source));
      const info = await expectOk(await plugin(`/posts/${id}/download`, listener.token));
      expect(info).toEqual({
        download_url: `http://localhost/media/loops/${id}/${"0".repeat(32)}-download.wav`,
        filename: `Night drums ${format}.wav`,
        metadata: {
          post_id: id,
          title: `Night drums ${format}`,
          producer: p.username,
          bpm: 120,
          key: "Am",
          duration_seconds: 8,
          duration_bars: 4,
          genres: ["lofi"],
          daw: "Ableton Live",
          format: "wav",
        },
      });
      // the DAW gets a WAV with the original's samples and none of its metadata
      const media = await env.app.handle(new Request(info.download_url));
      expect(media.status).toBe(200);
      expect(media.headers.get("content-type")).toBe("audio/wav");
      const bytes = new Uint8Array(await media.arrayBuffer());
      expect(new TextDecoder().decode(bytes.slice(0, 4))).toBe("RIFF");
      expect(new TextDecoder("latin1").decode(bytes)).not.toContain("secret project");
      const out = join(work, `got-${format}.wav`);
      await Bun.write(out, bytes);
      const [got, want] = [await decode(out), await decode(source)];
      expect(got.frames).toBe(want.frames);
      let maxDiff = 0;
      for (let i = 0; i < want.samples.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got.samples[i]! - want.samples[i]!));
      expect(maxDiff).toBeLessThan(1e-4); // lossless (16-bit steps are 3e-5)
      // POST spelling, second call: the cached WAV, not a second render
      const stat = await env.deps.storage.head(`loops/${id}/${"0".repeat(32)}-download.wav`);
      expect(await expectOk(await env.request(`/api/v1/posts/${id}/download`, { method: "POST", json: {}, token: listener.token }))).toEqual(info);
      expect((await env.deps.storage.head(`loops/${id}/${"0".repeat(32)}-download.wav`))?.etag).toBe(stat!.etag);
      // counted: two downloads so far, shown on the post (read without a Content-Type: that GET is not a delete)
      expect((await expectOk(await env.request(`/api/v1/posts/${id}`, { token: p.token }))).download_count).toBe(2);
      // the post's delete removes the rendered WAV with the rest
      await expectOk(await env.request(`/api/v1/posts/${id}/delete`, { method: "POST", json: {}, token: p.token }));
      expect(await env.deps.storage.exists(`loops/${id}/${"0".repeat(32)}-download.wav`)).toBe(false);
    }
  }, 60_000);

  test("download of a missing, unready or someone else's unready post: 404 / 409, nothing rendered", async () => {
    await setup();
    const other = await registerProducer(env);
    await expectError(await plugin(`/posts/nope/download`, p.token), 404, "post_not_found");
    const id = await insertReadyPost(env, p.id);
    await env.deps.database.db.update(posts).set({ status: "processing" }).where(eq(posts.id, id));
    await expectError(await plugin(`/posts/${id}/download`, other.token), 404, "post_not_found");
    await expectError(await plugin(`/posts/${id}/download`, p.token), 409, "post_not_ready");
    // ready, but its original is gone from storage
    await env.deps.database.db.update(posts).set({ status: "ready" }).where(eq(posts.id, id));
    await expectError(await plugin(`/posts/${id}/download`, p.token), 404, "original_missing");
  });
});

describe("item 7: uploads from the plugin", () => {
  let p: Producer;
  const setup = async () => {
    env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost" });
    registerProcessLoop(env.deps);
    await env.deps.jobs.start();
    p = await registerProducer(env);
  };
  const upload = (form: FormData, token = p.token) => env.request("/api/v1/audio/upload", { method: "POST", body: form, token });
  const postCount = async () => (await env.deps.database.db.select().from(posts)).length;

  test("a DAW tempo outside 20-400 BPM is stored as unknown (bpm 0), the loop is accepted; a tempo that is not a number is still refused", async () => {
    await setup();
    for (const bpm of ["999.0", "5", "-120"]) {
      const f = new FormData();
      f.set("bpm", bpm);
      f.set("filename", `tempo ${bpm}`);
      f.set("audio_file", Bun.file(drumsWav), "loop.wav");
      const res = await upload(f);
      const body = await json(res);
      expect(res.status).toBe(201);
      expect(body.bpm).toBe(0);
      const [row] = await env.deps.database.db.select().from(posts).where(eq(posts.id, body.id));
      expect(row!.bpm).toBeNull();
    }
    const f = new FormData();
    f.set("bpm", "fast");
    f.set("audio_file", Bun.file(drumsWav), "loop.wav");
    await expectError(await upload(f), 400, "validation_error");
    expect(await postCount()).toBe(3);
  }, 60_000);

  test("a chat snippet (StreamChatClient::uploadAudioSnippet: field audio, snippet.wav) is stored unlisted and never becomes a post", async () => {
    await setup();
    const f = new FormData();
    f.set("bpm", "120");
    f.set("duration_seconds", "2.00");
    f.set("sample_rate", "44100");
    f.set("audio", Bun.file(drumsWav), "snippet.wav");
    const res = await upload(f);
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body).toEqual({
      audio_url: expect.stringMatching(new RegExp(`^http://localhost/media/snippets/${p.id}/[0-9a-f]{32}\\.wav$`)),
      url: body.audio_url,
      duration_seconds: expect.any(Number),
      format: "wav",
    });
    expect(body.duration_seconds).toBeCloseTo(2, 1);
    expect("error" in body).toBe(false);
    // no post, no job, in no feed; the file is served at its URL
    expect(await postCount()).toBe(0);
    expect((await expectOk(await plugin("/feed/global?limit=10", p.token))).posts ?? []).toHaveLength(0);
    const media = await env.app.handle(new Request(body.audio_url));
    expect(media.status).toBe(200);
    expect(new Uint8Array(await media.arrayBuffer())).toEqual(new Uint8Array(await Bun.file(drumsWav).arrayBuffer()));
  }, 60_000);

  test("a snippet that is not audio, is empty or is longer than 30 s is refused and stores nothing", async () => {
    await setup();
    const long = await lavfi(join(work, "long.wav"), signals.drums(40), ["-c:a", "pcm_s16le", "-f", "wav"]);
    const cases: [Blob, number, string][] = [
      [new Blob(["<?php system($_GET['x']); ?>"]), 415, ""],
      [new Blob([]), 422, "empty_file"],
      [Bun.file(long), 422, ""],
    ];
    for (const [file, status] of cases) {
      const f = new FormData();
      f.set("audio", file, "snippet.wav");
      const res = await upload(f);
      const body = await json(res);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(typeof body.error).toBe("string");
      if (status === 422 && body.error === "empty_file") expect(res.status).toBe(422);
    }
    const snippets = join(env.deps.config.DATA_DIR, "media", "snippets");
    expect(existsSync(snippets) ? readdirSync(snippets, { recursive: true }).filter((n) => String(n).includes(".")) : []).toEqual([]);
    expect(await postCount()).toBe(0);
    // without a token nothing is read
    const f = new FormData();
    f.set("audio", Bun.file(drumsWav), "snippet.wav");
    expect((await env.request("/api/v1/audio/upload", { method: "POST", body: f })).status).toBe(401);
  }, 60_000);

  test("a loop in audio_file with an extra audio field stays a loop", async () => {
    await setup();
    const f = new FormData();
    f.set("audio_file", Bun.file(drumsWav), "loop.wav");
    f.set("audio", Bun.file(drumsWav), "snippet.wav");
    const res = await upload(f);
    expect(res.status).toBe(201);
    expect((await json(res)).verb).toBe("posted");
    expect(await postCount()).toBe(1);
  }, 60_000);
});

describe("item 4: the plugin's delete (NetworkClient::deletePost, FeedClient.cpp: DELETE without a body → GET)", () => {
  let owner: Producer;
  let other: Producer;
  const setup = async () => {
    env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost" });
    owner = await registerProducer(env);
    other = await registerProducer(env);
  };
  const exists = async (id: string) => (await env.deps.database.db.select().from(posts).where(eq(posts.id, id))).length === 1;

  test("the owner's plugin-shaped GET deletes the post and says so; a repeat is post_not_found", async () => {
    await setup();
    const id = await insertReadyPost(env, owner.id);
    const body = await expectOk(await plugin(`/posts/${id}`, owner.token));
    expect(body).toEqual({ ok: true, deleted: true, id });
    expect(await exists(id)).toBe(false);
    await expectError(await plugin(`/posts/${id}`, owner.token), 404, "post_not_found");
  });

  test("reads stay reads: another user's plugin GET, anonymous, no Content-Type, a query string, browser headers, a body", async () => {
    await setup();
    const id = await insertReadyPost(env, owner.id);
    const read = async (res: Response) => {
      const b = await expectOk(res);
      expect(b.id).toBe(id);
      expect(b.verb).toBe("posted");
    };
    await read(await plugin(`/posts/${id}`, other.token)); // not the owner
    await read(await env.request(`/api/v1/posts/${id}`, { headers: { "content-type": "application/json" } })); // no token
    await read(await env.request(`/api/v1/posts/${id}`, { token: owner.token })); // a REST client's read
    await read(await env.request(`/api/v1/posts/${id}?x=1`, { headers: { "content-type": "application/json" }, token: owner.token }));
    for (const [name, value] of [
      ["sec-fetch-mode", "cors"],
      ["sec-fetch-dest", "empty"],
      ["sec-purpose", "prefetch"],
      ["purpose", "prefetch"],
      ["origin", "https://evil.example"],
      ["referer", "http://localhost/"],
      ["cookie", "sc_session=x"],
    ]) {
      await read(await env.request(`/api/v1/posts/${id}`, { headers: { "content-type": "application/json", [name]: value }, token: owner.token }));
    }
    expect(await exists(id)).toBe(true);
  });

  test("isPluginDelete: only a bodiless GET with JSON content type and a bearer token", () => {
    const req = (init: RequestInit, url = "http://localhost/api/v1/posts/x") => new Request(url, init);
    const h = { "content-type": "application/json; charset=utf-8", authorization: "Bearer abc" };
    expect(isPluginDelete(req({ headers: h }))).toBe(true);
    expect(isPluginDelete(req({ method: "HEAD", headers: h }))).toBe(false);
    expect(isPluginDelete(req({ headers: { ...h, "content-length": "2" } }))).toBe(false);
    expect(isPluginDelete(req({ headers: { ...h, "transfer-encoding": "chunked" } }))).toBe(false);
    expect(isPluginDelete(req({ headers: { ...h, authorization: "Basic abc" } }))).toBe(false);
    expect(isPluginDelete(req({ headers: { ...h, "content-type": "text/plain" } }))).toBe(false);
    expect(isPluginDelete(req({ headers: { authorization: "Bearer abc" } }))).toBe(false);
  });
});

describe("item 3: staying signed in", () => {
  test("login, register and refresh return access tokens that end with their session's hard limit; the token restored at start works past 24 h", async () => {
    env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost" });
    const hardEnd = () => new Date(Math.floor((env.clock.now() + env.deps.config.SESSION_MAX_TTL_S * 1000) / 1000) * 1000).toISOString();
    const end = hardEnd();
    const p = await registerProducer(env, { password: "correct horse battery staple" });
    const login = await expectOk(
      await env.request("/api/v1/auth/login", { method: "POST", json: { email: p.email, password: "correct horse battery staple" } }),
    );
    expect(login.auth.expires_at).toBe(end);
    const claims = JSON.parse(Buffer.from(login.auth.token.split(".")[1], "base64url").toString());
    expect(claims.exp * 1000).toBe(Date.parse(end));
    // used every few days, the plugin's restored token keeps working for weeks
    for (let day = 0; day < 40; day += 5) {
      env.clock.advance(5 * 86400_000);
      expect((await expectOk(await plugin("/users/me", login.auth.token))).id).toBe(p.id);
    }
    // refresh rotation still works and keeps the same end
    const rotated = await expectOk(await env.request("/api/v1/auth/refresh", { method: "POST", json: { refresh_token: login.auth.refresh_token } }));
    expect(rotated.auth.expires_at).toBe(end);
    await expectError(await env.request("/api/v1/auth/refresh", { method: "POST", json: { refresh_token: login.auth.refresh_token } }), 401, "invalid_token");
    // revocation (here: the reuse of a rotated refresh token) is immediate whatever the tokens' exp
    await expectError(await plugin("/users/me", login.auth.token), 401, "invalid_token");
    await expectError(await plugin("/users/me", rotated.auth.token), 401, "invalid_token");
  });

  test("a session unused for SESSION_IDLE_TTL_S ends, token and all", async () => {
    env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost" });
    const p = await registerProducer(env);
    env.clock.advance(env.deps.config.SESSION_IDLE_TTL_S * 1000 + 60_000);
    await expectError(await plugin("/users/me", p.token), 401, "invalid_token");
  });
});

describe("item 5: notifications in the plugin's groups[] (src/models/Notification.h, NotificationClient.cpp)", () => {
  /** The plugin model's parse rules: typed strings, string arrays, booleans; a group without actors is dropped. */
  const parsesLikeThePlugin = (g: Record<string, unknown>) => {
    for (const k of ["id", "verb", "target_type", "target_id", "target_preview", "content_text", "group_id", "created_at", "updated_at"])
      expect(typeof g[k]).toBe("string");
    for (const k of ["actor_ids", "actor_usernames", "actor_avatar_urls"]) {
      expect(Array.isArray(g[k])).toBe(true);
      for (const v of g[k] as unknown[]) expect(typeof v).toBe("string");
    }
    expect(typeof g.is_read).toBe("boolean");
    expect(typeof g.is_seen).toBe("boolean");
    expect(Number.isInteger(g.actor_count)).toBe(true);
    expect((g.id as string).length && (g.verb as string).length && (g.actor_ids as string[]).length).toBeTruthy();
  };

  test("reactions to one loop and follows are grouped per verb and target, newest actor first, strings never null; notifications[] stays", async () => {
    env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost" });
    const me = await registerProducer(env);
    const [b, c] = [await registerProducer(env), await registerProducer(env)];
    const postId = await insertReadyPost(env, me.id, "Midnight chords");
    const other = await insertReadyPost(env, me.id, "Second loop");
    await expectOk(await plugin("/feed/like", b.token, { activity_id: postId, emoji: "🔥" }));
    env.clock.advance(1000);
    await expectOk(await plugin("/feed/like", c.token, { activity_id: postId, emoji: "❤️" }));
    env.clock.advance(1000);
    await expectOk(await plugin("/feed/like", b.token, { activity_id: other, emoji: "🔥" }));
    env.clock.advance(1000);
    await plugin("/social/follow", b.token, { target_user_id: me.id });
    env.clock.advance(1000);
    await plugin("/social/follow", c.token, { target_user_id: me.id });

    const page = await expectOk(await plugin("/notifications?limit=20&offset=0", me.token));
    expect(page.notifications).toHaveLength(5);
    expect(page.unread).toBe(5);
    for (const g of page.groups) parsesLikeThePlugin(g);
    expect(page.groups.map((g: { group_id: string }) => g.group_id)).toEqual([`follow:${me.id}`, `like:${other}`, `like:${postId}`]);
    const [follows, likeOther, likes] = page.groups;
    expect(follows).toMatchObject({
      verb: "follow",
      actor_ids: [c.id, b.id],
      actor_usernames: [c.username, b.username],
      actor_avatar_urls: ["", ""],
      actor_count: 2,
      target_type: "user",
      target_id: me.id,
      target_preview: "",
      content_text: "",
      is_read: false,
      is_seen: false,
    });
    expect(follows.id).toBe(page.notifications[0].id);
    expect(follows.created_at).toBe(page.notifications[0].created_at);
    expect(likeOther).toMatchObject({
      verb: "like",
      actor_ids: [b.id],
      actor_count: 1,
      target_type: "post",
      target_id: other,
      target_preview: "Second loop",
      content_text: "🔥",
    });
    expect(likes).toMatchObject({
      verb: "like",
      actor_ids: [c.id, b.id],
      actor_count: 2,
      target_id: postId,
      target_preview: "Midnight chords",
      content_text: "❤️",
    });

    // the plugin's "mark all read" (empty-body POST → GET) reads every group
    await expectOk(await plugin("/notifications/read", me.token));
    const after = await expectOk(await plugin("/notifications?limit=20&offset=0", me.token));
    expect(after.groups.every((g: { is_read: boolean; is_seen: boolean }) => g.is_read && g.is_seen)).toBe(true);
    // a page with nothing has an empty groups[]
    expect((await expectOk(await plugin("/notifications?limit=20&offset=0", b.token))).groups).toEqual([]);
  });

  test("a group is read only when all of it is; a new post by a followed producer is its own group", async () => {
    env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost" });
    const me = await registerProducer(env);
    const [b, c] = [await registerProducer(env), await registerProducer(env)];
    const postId = await insertReadyPost(env, me.id, "Loop");
    await expectOk(await plugin("/feed/like", b.token, { activity_id: postId, emoji: "🔥" }));
    const first = (await expectOk(await plugin("/notifications", me.token))).notifications[0].id;
    await expectOk(await env.request("/api/v1/notifications/read", { method: "POST", json: { ids: [first] }, token: me.token }));
    env.clock.advance(1000);
    await expectOk(await plugin("/feed/like", c.token, { activity_id: postId, emoji: "🔥" }));
    const [g] = (await expectOk(await plugin("/notifications", me.token))).groups;
    expect(g).toMatchObject({ actor_ids: [c.id, b.id], is_read: false, is_seen: false });

    await plugin("/social/follow", me.token, { target_user_id: b.id });
    const bPost = await insertReadyPost(env, b.id, "B's new loop");
    const groups = (await expectOk(await plugin("/notifications", me.token))).groups;
    const posted = groups.find((x: { verb: string }) => x.verb === "post");
    parsesLikeThePlugin(posted);
    expect(posted).toMatchObject({ verb: "post", actor_ids: [b.id], target_type: "post", target_id: bPost, target_preview: "B's new loop", content_text: "" });
  });
});

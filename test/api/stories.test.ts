// Stories (README "Stories") as the plugin uses them: its StoriesClient (plugin/src/network/api/StoriesClient.cpp:
// uploadStory sends multipart with the MP3 in `audio` plus duration, bpm, key, genre and midi_data; viewStory's and
// getStoryDownloadInfo's empty POSTs and deleteStory's DELETE arrive as GETs) and the shapes its models read
// (plugin/src/models/Story.h and Story.cpp, plugin/src/ui/stories/StoriesFeed.cpp's groups, StoryHighlights.cpp's
// {highlights}). Real ffmpeg on audio made at test time, both database drivers (bun:sqlite and a real sqld), local
// storage on disk and a real S3-compatible server, the real job runner; expiry runs the expire-story job with the
// env's settable clock.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq, sql } from "drizzle-orm";
import { jobs, stories, users } from "../../src/db/schema.ts";
import { registerJobHandlers } from "../../src/index.ts";
import { EXPIRE_STORY, expireStoryKey } from "../../src/stories/process.ts";
import { STORY_TTL_MS } from "../../src/stories/service.ts";
import { convert, lavfi, signals } from "../support/audio.ts";
import { expectError, expectOk, type Producer, registerProducer } from "../support/auth.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { PluginClient, pluginError } from "../support/plugin-client.ts";
import { insertFollow } from "../support/ready-posts.ts";
import { type S3rverHandle, startS3rver } from "../support/s3.ts";
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";

const work = mkdtempSync(join(tmpdir(), "sc-stories-"));
let wav: Uint8Array<ArrayBuffer>;
let mp3: Uint8Array<ArrayBuffer>;
let longMp3: Uint8Array<ArrayBuffer>;
let silence: Uint8Array<ArrayBuffer>;
beforeAll(async () => {
  const wavPath = await lavfi(join(work, "story.wav"), signals.drums(4), ["-c:a", "pcm_s16le", "-f", "wav"]);
  wav = new Uint8Array(readFileSync(wavPath));
  mp3 = new Uint8Array(readFileSync(await convert(wavPath, join(work, "story.mp3"), ["-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3"])));
  const long = await lavfi(join(work, "long.wav"), signals.drums(70), ["-c:a", "pcm_s16le", "-ac", "1", "-ar", "22050", "-f", "wav"]);
  silence = new Uint8Array(readFileSync(await lavfi(join(work, "silence.wav"), signals.silence(3), ["-c:a", "pcm_s16le", "-f", "wav"])));
  longMp3 = new Uint8Array(readFileSync(await convert(long, join(work, "long.mp3"), ["-c:a", "libmp3lame", "-b:a", "32k", "-f", "mp3"])));
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The body of a 201 Created answer. */
async function expectCreated(res: Response) {
  const body = await res.json();
  expect({ status: res.status, body }).toMatchObject({ status: 201 });
  return body;
}

/** What the plugin's Story::fromJSON / from_json read, each with the JSON type nlohmann requires. */
function expectPluginStory(s: Record<string, unknown>) {
  for (const k of [
    "id",
    "user_id",
    "audio_url",
    "filename",
    "midi_filename",
    "midi_pattern_id",
    "waveform_data",
    "waveform_url",
    "key",
    "created_at",
    "expires_at",
  ])
    expect({ k, type: typeof s[k] }).toEqual({ k, type: "string" });
  for (const k of ["username", "user_display_name", "user_avatar_url"]) expect({ k, type: typeof s[k] }).toEqual({ k, type: "string" });
  expect(typeof s.audio_duration).toBe("number");
  expect(Number.isInteger(s.bpm)).toBe(true);
  expect(Number.isInteger(s.view_count)).toBe(true);
  expect(typeof s.viewed).toBe("boolean");
  expect(Array.isArray(s.genres)).toBe(true);
  expect(s.midi_data === null || (typeof s.midi_data === "object" && !Array.isArray(s.midi_data))).toBe(true);
  const user = s.user as Record<string, unknown>;
  for (const k of ["username", "display_name", "avatar_url"]) expect(typeof user[k]).toBe("string");
  expect("error" in s).toBe(false);
}

for (const driver of DRIVERS) {
  describe(`stories on ${driver}`, () => {
    let env: TestEnv;
    let server: ReturnType<typeof Bun.serve>;
    let mira: Producer; // the producer
    let fan: Producer; // follows mira
    let stranger: Producer; // follows nobody
    let blockee: Producer; // followed mira, then mira blocked them
    let plugin: PluginClient;
    let storyId: string;

    const files = () => {
      const dir = join(env.deps.config.DATA_DIR, "media", "stories");
      return existsSync(dir) ? readdirSync(dir, { recursive: true }).filter((f) => String(f).includes(".")) : [];
    };
    const storyRows = async () => (await env.deps.database.db.select({ id: stories.id }).from(stories)).length;
    const jobCount = async () => Number((await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM jobs`))[0]!.n);
    const api = (path: string, who: Producer, init: Parameters<TestEnv["request"]>[1] = {}) => env.request(`/api/v1${path}`, { token: who.token, ...init });
    const as = (who: Producer) => {
      const c = new PluginClient(`http://127.0.0.1:${server.port}`);
      c.token = who.token;
      return c;
    };
    const formUpload = (who: Producer, fields: Record<string, string>, file?: { field: string; bytes: Uint8Array<ArrayBuffer>; name: string }) => {
      const f = new FormData();
      for (const [k, v] of Object.entries(fields)) f.set(k, v);
      if (file) f.set(file.field, new Blob([file.bytes]), file.name);
      return api("/stories", who, { method: "POST", body: f });
    };

    beforeAll(async () => {
      env = await createTestEnv(driver, { PUBLIC_URL: "http://localhost", JOB_POLL_MS: "20", UPLOAD_MAX_BYTES: String(2 * 1024 * 1024) });
      registerJobHandlers(env.deps);
      await env.deps.jobs.start();
      server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => env.app.handle(req) });
      [mira, fan, stranger, blockee] = [
        await registerProducer(env, { username: `mira_${driver}` }),
        await registerProducer(env, { username: `fan_${driver}` }),
        await registerProducer(env, { username: `stranger_${driver}` }),
        await registerProducer(env, { username: `blockee_${driver}` }),
      ];
      await insertFollow(env, fan.id, mira.id);
      await insertFollow(env, blockee.id, mira.id);
      await expectCreated(await api("/social/block", mira, { method: "POST", json: { target_user_id: blockee.id } }));
      // Even with a follow row written after the block, the block hides the stories (both ways).
      await insertFollow(env, blockee.id, mira.id).catch(() => undefined);
      plugin = as(mira);
    }, 60_000);
    afterAll(async () => {
      server?.stop(true);
      await env?.close();
    });

    test("the plugin's upload (MP3 in `audio`) is processed by the loops' pipeline and comes back ready in the plugin's shape", async () => {
      const midi = { events: [{ note: 60, velocity: 100, time: 0, duration: 0.5 }], tempo: 92 };
      const body = await plugin.upload("/api/v1/stories", "audio", mp3, "story.mp3", "audio/mpeg", {
        bpm: "92",
        duration: "4.0",
        genre: "lofi,boom bap",
        key: "A minor",
        midi_data: JSON.stringify(midi),
      });
      expect(pluginError(body)).toBe("");
      expectPluginStory(body);
      expect(body).toMatchObject({
        user_id: mira.id,
        status: "ready",
        bpm: 92,
        key: "Am",
        genres: ["lofi", "boom bap"],
        midi_data: midi,
        view_count: 0,
        viewed: true,
      });
      expect(body.audio_duration).toBeGreaterThan(3.9);
      expect(body.audio_duration).toBeLessThan(4.2);
      expect(Date.parse(body.expires_at) - Date.parse(body.created_at)).toBe(STORY_TTL_MS);
      storyId = body.id;
      // The renditions a loop gets, under stories/<user>/<story>/: original, MP3, Ogg, peaks, SVG, PNG.
      expect(files().filter((f) => String(f).includes(storyId)).length).toBe(6);
      const ogg = await env.request(new URL(body.audio_url).pathname);
      expect(ogg.status).toBe(200);
      expect(new Uint8Array(await ogg.arrayBuffer()).slice(0, 4)).toEqual(new TextEncoder().encode("OggS"));
      expect((await env.request(new URL(body.waveform_url).pathname)).headers.get("content-type")).toBe("image/png");
      // Its expire-story job is written, due at the story's expiry.
      const [expire] = await env.deps.database.db
        .select()
        .from(jobs)
        .where(eq(jobs.dedupeKey, expireStoryKey(storyId)));
      expect(expire).toMatchObject({ type: EXPIRE_STORY, status: "queued", runAt: Date.parse(body.expires_at) });
    }, 60_000);

    test("bad input is refused with the contract's error and writes nothing (no row, no job, no file)", async () => {
      const before = { rows: await storyRows(), jobs: await jobCount(), files: files().length };
      // No file at all, and the loop's field name instead of `audio`.
      await expectError(await formUpload(mira, { bpm: "92" }), 400, "validation_error");
      const wrong = await formUpload(mira, {}, { field: "audio_file", bytes: wav, name: "story.wav" });
      expect((await expectError(wrong, 400, "validation_error")).fields).toHaveProperty("audio");
      // Not audio, empty, longer than a minute, bigger than UPLOAD_MAX_BYTES, MIDI that is not a JSON object.
      await expectError(
        await formUpload(mira, {}, { field: "audio", bytes: new TextEncoder().encode("not audio at all, just text".repeat(40)), name: "x.mp3" }),
        415,
        "unsupported_format",
      );
      await expectError(await formUpload(mira, {}, { field: "audio", bytes: new Uint8Array(0), name: "x.wav" }), 422, "empty_file");
      const long = await formUpload(mira, {}, { field: "audio", bytes: longMp3, name: "long.mp3" });
      expect((await expectError(long, 422, "too_long")).message).toMatch(/60|61/);
      await expectError(await formUpload(mira, {}, { field: "audio", bytes: new Uint8Array(3 * 1024 * 1024), name: "big.wav" }), 413, "payload_too_large");
      for (const midi of ["{not json", "[1,2]", '"a string"'])
        expect(
          (await expectError(await formUpload(mira, { midi_data: midi }, { field: "audio", bytes: wav, name: "s.wav" }), 400, "validation_error")).fields,
        ).toHaveProperty("midi_data");
      await expectError(await formUpload(mira, { bpm: "fast" }, { field: "audio", bytes: wav, name: "s.wav" }), 400, "validation_error");
      // Silence passes the checks before processing and is refused by the pipeline: the story, its jobs and files go.
      await expectError(await formUpload(mira, {}, { field: "audio", bytes: silence, name: "silence.wav" }), 422, "silent");
      // Signed out, and JSON instead of multipart.
      await expectError(await env.request("/api/v1/stories", { method: "POST", body: new FormData() }), 401, "unauthorized");
      await expectError(await api("/stories", mira, { method: "POST", json: { audio: "x" } }), 415, "unsupported_media_type");
      expect({ rows: await storyRows(), jobs: await jobCount(), files: files().length }).toEqual(before);
    }, 60_000);

    test("a retried upload with the same Idempotency-Key answers the same story, once", async () => {
      const send = () => {
        const f = new FormData();
        f.set("audio", new Blob([wav]), "retry.wav");
        return api("/stories", mira, { method: "POST", body: f, headers: { "Idempotency-Key": `story-retry-${driver}` } });
      };
      const first = await expectCreated(await send());
      const again = await expectOk(await send());
      expect(again.id).toBe(first.id);
      expect(await expectOk(await api(`/stories/${first.id}`, mira, { method: "DELETE" }))).toEqual({ ok: true });
    }, 60_000);

    test("the stories feed: followers and the producer see it, grouped as the plugin reads it; strangers and the blocked do not", async () => {
      const feed = await as(fan).get("/api/v1/stories");
      expect(pluginError(feed)).toBe("");
      expect(feed.stories.map((s: { id: string }) => s.id)).toEqual([storyId]);
      for (const s of feed.stories) expectPluginStory(s);
      expect(feed.groups).toHaveLength(1);
      expect(feed.groups[0]).toMatchObject({ user_id: mira.id, username: mira.username, has_unviewed: true });
      expect(feed.groups[0].stories[0]).toMatchObject({ id: storyId, viewed: false });
      // The producer's own group comes first and counts as heard.
      const own = await as(mira).get("/api/v1/stories");
      expect(own.groups.map((g: { user_id: string; has_unviewed: boolean }) => [g.user_id, g.has_unviewed])).toEqual([[mira.id, false]]);
      for (const who of [stranger, blockee]) {
        expect(await expectOk(await api("/stories", who))).toEqual({ stories: [], groups: [] });
        await expectError(await api(`/stories/${storyId}`, who), 404, "story_not_found");
        await expectError(await api(`/stories/${storyId}/view`, who, { method: "POST" }), 404, "story_not_found");
        expect(await expectOk(await api(`/users/${mira.id}/stories`, who))).toEqual({ stories: [] });
      }
      expect((await expectOk(await api(`/users/${mira.id}/stories`, fan))).stories.map((s: { id: string }) => s.id)).toEqual([storyId]);
      // Signed out: the plugin's start-up call still succeeds, empty.
      expect(await expectOk(await env.request("/api/v1/stories"))).toEqual({ stories: [], groups: [] });
    });

    test("a suspended producer's stories are hidden from everyone else", async () => {
      await env.deps.database.db.update(users).set({ suspendedAt: env.clock.now() }).where(eq(users.id, mira.id));
      expect((await expectOk(await api("/stories", fan))).stories).toEqual([]);
      await expectError(await api(`/stories/${storyId}`, fan), 404, "story_not_found");
      await env.deps.database.db.update(users).set({ suspendedAt: null }).where(eq(users.id, mira.id));
      expect((await expectOk(await api("/stories", fan))).stories).toHaveLength(1);
    });

    test("a view is recorded once per member (the plugin's empty POST arrives as GET); only the producer sees who viewed", async () => {
      const fanPlugin = as(fan);
      expect(await fanPlugin.post(`/api/v1/stories/${storyId}/view`)).toEqual({ ok: true, viewed: true, view_count: 1 });
      expect(fanPlugin.sent.at(-1)!.method).toBe("GET");
      expect(await fanPlugin.post(`/api/v1/stories/${storyId}/view`)).toEqual({ ok: true, viewed: true, view_count: 1 });
      expect(await expectOk(await api(`/stories/${storyId}/view`, fan, { method: "POST" }))).toMatchObject({ view_count: 1 });
      // The producer listening to their own story is not a view.
      expect(await plugin.post(`/api/v1/stories/${storyId}/view`)).toMatchObject({ view_count: 1 });
      const feed = await fanPlugin.get("/api/v1/stories");
      expect(feed.groups[0]).toMatchObject({ has_unviewed: false });
      expect(feed.stories[0]).toMatchObject({ viewed: true, view_count: 1 });
      const views = await plugin.get(`/api/v1/stories/${storyId}/views`);
      expect(views.view_count).toBe(1);
      expect(views.viewers.map((v: { user_id: string; username: string }) => [v.user_id, v.username])).toEqual([[fan.id, fan.username]]);
      expect(await expectOk(await api(`/stories/${storyId}/viewers`, mira))).toEqual(views);
      await expectError(await api(`/stories/${storyId}/views`, fan), 403, "not_story_owner");
      await expectError(await api(`/stories/${storyId}/views`, stranger), 404, "story_not_found");
      await expectError(await api(`/stories/${storyId}/views?limit=0`, mira), 400, "validation_error");
      await expectError(await env.request(`/api/v1/stories/${storyId}/views`), 401, "unauthorized");
    });

    test("the plugin's download of a story: its MP3 and a safe file name", async () => {
      const info = await as(fan).post(`/api/v1/stories/${storyId}/download`);
      expect(info).toMatchObject({
        audio_filename: "Sidechain story.mp3",
        metadata: { story_id: storyId, bpm: 92, key: "Am", format: "mp3", producer: mira.username },
      });
      const res = await env.request(new URL(info.audio_url).pathname);
      expect(res.status).toBe(200);
      await expectError(await api(`/stories/${storyId}/download`, stranger), 404, "story_not_found");
    });

    test("highlights: the plugin creates, renames (PUT as POST), adds a story; anyone who sees the producer sees them", async () => {
      const created = await plugin.post("/api/v1/highlights", { name: "Jams" });
      expect(pluginError(created)).toBe("");
      expect(created).toMatchObject({ user_id: mira.id, name: "Jams", description: "", story_count: 0, sort_order: 0, cover_image: "" });
      const renamed = await plugin.put(`/api/v1/highlights/${created.id}`, { name: "Late jams", description: "Night sessions" });
      expect(renamed).toMatchObject({ name: "Late jams", description: "Night sessions" });
      const added = await plugin.post(`/api/v1/highlights/${created.id}/stories`, { story_id: storyId });
      expect(added).toMatchObject({ story_count: 1 });
      expect(added.cover_image).toEndWith(".png");
      // Again: nothing changes (the plugin retries).
      expect(await plugin.post(`/api/v1/highlights/${created.id}/stories`, { story_id: storyId })).toMatchObject({ story_count: 1 });
      const list = await as(stranger).get(`/api/v1/users/${mira.id}/highlights`);
      expect(list.highlights.map((h: { id: string; story_count: number }) => [h.id, h.story_count])).toEqual([[created.id, 1]]);
      // The plugin's GET of one highlight (by its owner, with its headers) reads it: it never deletes.
      const one = await plugin.get(`/api/v1/highlights/${created.id}`);
      expect(one.stories.map((s: { id: string }) => s.id)).toEqual([storyId]);
      for (const s of one.stories) expectPluginStory(s);
      expect(await expectOk(await api(`/users/${mira.id}/highlights`, blockee))).toEqual({ highlights: [] });
      await expectError(await api(`/highlights/${created.id}`, blockee), 404, "highlight_not_found");
      // Someone else's highlight, someone else's story, no name, a name too long.
      await expectError(await api(`/highlights/${created.id}/stories`, fan, { method: "POST", json: { story_id: storyId } }), 404, "highlight_not_found");
      const fans = await expectCreated(await api("/highlights", fan, { method: "POST", json: { name: "Mine" } }));
      await expectError(await api(`/highlights/${fans.id}/stories`, fan, { method: "POST", json: { story_id: storyId } }), 404, "story_not_found");
      await expectError(await api("/highlights", fan, { method: "POST", json: { name: "   " } }), 400, "validation_error");
      await expectError(await api("/highlights", fan, { method: "POST", json: { name: "x".repeat(41) } }), 400, "validation_error");
      await expectError(await api(`/highlights/${created.id}`, fan, { method: "PUT", json: { name: "Taken" } }), 404, "highlight_not_found");
      expect((await expectOk(await api(`/highlights/${created.id}`, mira))).name).toBe("Late jams");
    });

    test("expiry: after 24 h the job deletes a story and its files, unless a highlight keeps it; letting go deletes it then", async () => {
      // A second story, in no highlight.
      const second = await expectCreated(await formUpload(mira, { filename: "Second" }, { field: "audio", bytes: wav, name: "second.wav" }));
      expect(second.status).toBe("ready");
      expect(files().filter((f) => String(f).includes(second.id)).length).toBe(6);
      env.clock.advance(STORY_TTL_MS + 1000);
      // Expired: out of every feed at once, before the job has run.
      expect((await expectOk(await api("/stories", fan))).stories).toEqual([]);
      // The runner claims them as soon as they are due (its clock is the env's).
      const due = await env.deps.database.db.select().from(jobs).where(eq(jobs.type, EXPIRE_STORY));
      // (With the one of the story deleted in the retry test: it finds nothing to do.)
      expect(due.map((j) => j.dedupeKey)).toEqual(expect.arrayContaining([expireStoryKey(storyId), expireStoryKey(second.id)]));
      env.deps.jobs.wake();
      for (const j of due) expect((await env.deps.jobs.waitFor(j.id, 30_000))?.status).toBe("done");
      // The unkept story is gone, rows and files; the highlighted one stays, playable in its highlight.
      const left = await env.deps.database.db.select({ id: stories.id }).from(stories);
      expect(left.map((s) => s.id)).toEqual([storyId]);
      expect(files().filter((f) => String(f).includes(second.id))).toEqual([]);
      expect(files().filter((f) => String(f).includes(storyId)).length).toBe(6);
      const [highlight] = (await expectOk(await api(`/users/${mira.id}/highlights`, fan))).highlights;
      const kept = await expectOk(await api(`/highlights/${highlight.id}`, fan));
      expect(kept.stories.map((s: { id: string }) => s.id)).toEqual([storyId]);
      expect((await env.request(new URL(kept.stories[0].audio_url).pathname)).status).toBe(200);
      // Taken out of its only highlight (the plugin's DELETE arrives as GET), the expired story is deleted then.
      const out = await plugin.del(`/api/v1/highlights/${highlight.id}/stories/${storyId}`);
      expect(out).toMatchObject({ story_count: 0 });
      expect(await storyRows()).toBe(0);
      expect(files()).toEqual([]);
    }, 60_000);

    test("deleting: the plugin's DELETE arrives as GET /stories/{id} and deletes (its owner only); other GETs read", async () => {
      const s = await expectCreated(await formUpload(mira, {}, { field: "audio", bytes: wav, name: "third.wav" }));
      // The fan's plugin sends the same request: a read, never a delete.
      expect((await as(fan).del(`/api/v1/stories/${s.id}`)).id).toBe(s.id);
      // The owner without the plugin's Content-Type: a read.
      expect((await expectOk(await api(`/stories/${s.id}`, mira))).id).toBe(s.id);
      expect(await plugin.del(`/api/v1/stories/${s.id}`)).toEqual({ ok: true, deleted: true, id: s.id });
      expect(await storyRows()).toBe(0);
      expect(files()).toEqual([]);
      await expectError(await api(`/stories/${s.id}`, mira), 404, "story_not_found");
      // The REST delete, and someone else's story.
      const t2 = await expectCreated(await formUpload(mira, {}, { field: "audio", bytes: wav, name: "fourth.wav" }));
      await expectError(await api(`/stories/${t2.id}`, fan, { method: "DELETE" }), 404, "story_not_found");
      expect(await expectOk(await api(`/stories/${t2.id}`, mira, { method: "DELETE" }))).toEqual({ ok: true });
      expect(files()).toEqual([]);
      // A highlight deleted (REST): gone for its owner; the plugin's GET of a highlight never deletes (see above).
      const h = await expectCreated(await api("/highlights", mira, { method: "POST", json: { name: "Temp" } }));
      expect(await expectOk(await api(`/highlights/${h.id}/delete`, mira, { method: "POST" }))).toEqual({ ok: true });
      await expectError(await api(`/highlights/${h.id}`, mira), 404, "highlight_not_found");
    }, 60_000);

    test("deleting accounts: a viewer's views leave the count; a producer's stories, highlights and files go", async () => {
      // Mira is the community's owner (the first account), who cannot leave: another producer posts here.
      const nova = await registerProducer(env, { username: `nova_${driver}` });
      const s = await expectCreated(await formUpload(nova, {}, { field: "audio", bytes: wav, name: "last.wav" }));
      await expectCreated(await api("/highlights", nova, { method: "POST", json: { name: "Keep" } }));
      for (const who of [fan, stranger]) await insertFollow(env, who.id, nova.id);
      for (const who of [fan, stranger]) await expectOk(await api(`/stories/${s.id}/view`, who, { method: "POST" }));
      expect((await expectOk(await api(`/stories/${s.id}/views`, nova))).view_count).toBe(2);
      await expectOk(await api("/users/me/delete", stranger, { method: "POST", json: { password: "correct horse battery staple" } }));
      const views = await expectOk(await api(`/stories/${s.id}/views`, nova));
      expect({ count: views.view_count, viewers: views.viewers.map((v: { user_id: string }) => v.user_id) }).toEqual({ count: 1, viewers: [fan.id] });
      expect(files().length).toBe(6);
      await expectOk(await api("/users/me/delete", nova, { method: "POST", json: { password: "correct horse battery staple" } }));
      expect(await storyRows()).toBe(0);
      expect(Number((await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM story_highlights WHERE user_id = ${nova.id}`))[0]!.n)).toBe(0);
      expect(files()).toEqual([]);
    }, 60_000);
  });
}

describe("stories with STORAGE=s3 (a real S3-compatible server)", () => {
  let s3: S3rverHandle;
  let env: TestEnv;
  let admin: S3Client;
  let nova: Producer;
  const bucketKeys = async () => ((await admin.send(new ListObjectsV2Command({ Bucket: s3.bucket }))).Contents ?? []).map((o) => o.Key!).sort();

  beforeAll(async () => {
    s3 = await startS3rver("sidechain-stories");
    env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost", JOB_POLL_MS: "20", ...s3.env });
    registerJobHandlers(env.deps);
    await env.deps.jobs.start();
    admin = s3.client();
    nova = await registerProducer(env, { username: "nova_s3" });
  }, 60_000);
  afterAll(async () => {
    admin?.destroy();
    await env?.close();
    await s3?.stop();
  });

  test("the story's renditions go to the bucket; a refused one leaves nothing; expiry empties it", async () => {
    const f = new FormData();
    f.set("audio", new Blob([wav]), "story.wav");
    const story = await expectCreated(await env.request("/api/v1/stories", { method: "POST", body: f, token: nova.token }));
    const keys = await bucketKeys();
    expect(keys.map((k) => k.split(".").pop()).sort()).toEqual(["json", "mp3", "ogg", "png", "svg", "wav"]);
    expect(keys.every((k) => k.startsWith(`stories/${nova.id}/${story.id}/`))).toBe(true);
    const bad = new FormData();
    bad.set("audio", new Blob([silence]), "silence.wav");
    await expectError(await env.request("/api/v1/stories", { method: "POST", body: bad, token: nova.token }), 422, "silent");
    expect(await bucketKeys()).toEqual(keys);
    env.clock.advance(STORY_TTL_MS + 1000);
    const [job] = await env.deps.database.db
      .select()
      .from(jobs)
      .where(eq(jobs.dedupeKey, expireStoryKey(story.id)));
    env.deps.jobs.wake();
    expect((await env.deps.jobs.waitFor(job!.id, 30_000))?.status).toBe("done");
    expect(await bucketKeys()).toEqual([]);
    expect(await env.deps.database.db.select().from(stories)).toEqual([]);
  }, 60_000);
});

// Posts made before the plugin's renditions existed (no Ogg, no PNG: the plugin cannot play them, per
// plugin/src/audio/HttpAudioPlayer.cpp, nor draw their waveform, per plugin/src/ui/common/WaveformImageView.cpp)
// get them through the add-renditions job queued at start: real servers (start() in process) restarted on the same
// DATA_DIR, real ffmpeg, real SQLite and local storage.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { and, eq, sql } from "drizzle-orm";
import { loadConfig } from "../../src/config.ts";
import { jobs, posts } from "../../src/db/schema.ts";
import { buildDeps } from "../../src/index.ts";
import { ADD_RENDITIONS, addRenditions, queueMissingRenditions } from "../../src/audio/renditions.ts";
import { inspectOggVorbis } from "../../src/audio/ogg.ts";
import { lavfi, playOgg, probeStream, signals } from "../support/audio.ts";
import { postTypeProblems } from "../support/post-shape.ts";
import { startRealtime, type Producer, type RealtimeServer } from "../support/realtime.ts";

const work = mkdtempSync(join(tmpdir(), "sc-renditions-"));
const dataDir = mkdtempSync(join(tmpdir(), "sc-renditions-data-"));
const ENV = { UPLOAD_RATE_PER_HOUR: "100000", JOB_POLL_MS: "50" };
let wav: string;
let server: RealtimeServer | undefined;
let producer: Producer;

beforeAll(async () => {
  wav = await lavfi(join(work, "loop.wav"), signals.drumsWithGap(4, 2, 4), ["-c:a", "pcm_s16le", "-f", "wav"]);
}, 60_000);
afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

async function upload(s: RealtimeServer, token: string, title: string) {
  const form = new FormData();
  form.set("filename", title);
  form.set("audio_file", Bun.file(wav), "loop.wav");
  const res = await fetch(`${s.url}/api/v1/audio/upload`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: form });
  const body = (await res.json()) as Record<string, string>;
  expect(res.status).toBe(201);
  expect(body.status).toBe("ready");
  return body;
}

const getPost = async (s: RealtimeServer, id: string) => (await (await s.get(`/api/v1/posts/${id}`)).json()) as Record<string, string>;
const media = (s: RealtimeServer, url: string) => s.get(new URL(url).pathname);

/** Turns a post into one made the old way: no Ogg and PNG keys, no such objects. */
async function makeOld(s: RealtimeServer, postId: string) {
  const { deps } = s.running;
  const [row] = await deps.database.db.select().from(posts).where(eq(posts.id, postId));
  await deps.storage.deleteMany([row!.oggKey!, row!.waveformPngKey!]);
  await deps.database.db.update(posts).set({ oggKey: null, waveformPngKey: null }).where(eq(posts.id, postId));
}

const renditionJobs = async (s: RealtimeServer) => s.running.deps.database.db.select().from(jobs).where(eq(jobs.type, ADD_RENDITIONS));

describe("older posts get the plugin's renditions", () => {
  let oldId: string, brokenId: string, mp3Before: Uint8Array<ArrayBuffer>, mp3Url: string;

  test("a post made the old way plays its MP3 and shows its SVG until then (and the shape holds)", async () => {
    server = await startRealtime(ENV, {}, dataDir);
    producer = await server.producer("renditions_owner");
    const a = await upload(server, producer.token, "Old loop");
    const b = await upload(server, producer.token, "Old loop, original lost");
    oldId = a.id!;
    brokenId = b.id!;
    await makeOld(server, oldId);
    await makeOld(server, brokenId);
    const [broken] = await server.running.deps.database.db.select().from(posts).where(eq(posts.id, brokenId));
    await server.running.deps.storage.delete(broken!.originalKey);

    const post = await getPost(server, oldId);
    expect(postTypeProblems(post)).toEqual([]);
    expect(post.audio_url).toBe(post.mp3_url);
    expect(post.audio_url).toEndWith(".mp3");
    expect(post.waveform_url).toBe(post.waveform_svg_url);
    mp3Url = post.mp3_url!;
    mp3Before = new Uint8Array(await (await media(server, mp3Url)).arrayBuffer());
    await server.stop({ keepData: true });
    server = undefined;
  }, 60_000);

  test("queued durably: jobs queued by one process (which stops before running them) run after a restart", async () => {
    // A process that queues and stops without running a job (its queue never starts).
    const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "error" });
    const deps = await buildDeps(config);
    expect(await queueMissingRenditions(deps)).toBe(2);
    expect(await queueMissingRenditions(deps)).toBe(0); // one job per post, ever (dedupe key)
    await deps.database.close();

    // The restart runs them; its own start-up scan adds nothing.
    server = await startRealtime(ENV, {}, dataDir);
    const queued = await renditionJobs(server);
    expect(queued).toHaveLength(2);
    const finals = await Promise.all(queued.map((j) => server!.running.deps.jobs.waitFor(j.id, 60_000)));
    const byPost = Object.fromEntries(finals.map((j) => [(j!.payload as { postId: string }).postId, j!]));
    expect(byPost[oldId]).toMatchObject({ status: "done", result: { ogg: true, png: true } });
    // The post whose original is gone fails once, for good, and keeps playing its MP3.
    expect(byPost[brokenId]).toMatchObject({ status: "failed", attempts: 1 });
    const broken = await getPost(server, brokenId);
    expect(broken.audio_url).toBe(broken.mp3_url);
    expect(postTypeProblems(broken)).toEqual([]);
  }, 120_000);

  test("the converted post: an Ogg Vorbis at −14 LUFS, gapless, and a PNG of its peaks; the MP3 untouched", async () => {
    const s = server!;
    const post = await getPost(s, oldId);
    expect(postTypeProblems(post)).toEqual([]);
    expect(post.audio_url).toEndWith(".ogg");
    expect(post.waveform_url).toEndWith(".png");
    expect(post.mp3_url).toBe(mp3Url);
    expect(new Uint8Array(await (await media(s, post.mp3_url!)).arrayBuffer())).toEqual(mp3Before);

    const ogg = await media(s, post.audio_url!);
    expect(ogg.headers.get("content-type")).toBe("audio/ogg");
    const bytes = new Uint8Array(await ogg.arrayBuffer());
    const file = join(work, "converted.ogg");
    await Bun.write(file, bytes);
    expect(probeStream(file)).toMatchObject({ codec_name: "vorbis", sample_rate: "44100" });
    const info = inspectOggVorbis(bytes)!;
    expect(info.samples).toBe(4 * 44100);
    const played = await playOgg(file, info.samples, work);
    expect(Math.abs(played.lufs + 14)).toBeLessThanOrEqual(0.5);
    expect(played.truePeakDb).toBeLessThanOrEqual(-1);

    const png = await media(s, post.waveform_url!);
    expect(png.headers.get("content-type")).toBe("image/png");
    const pngBytes = new Uint8Array(await png.arrayBuffer());
    expect(String.fromCharCode(...pngBytes.subarray(12, 16))).toBe("IHDR");
    expect(new DataView(pngBytes.buffer).getUint32(16)).toBe(1800);
  }, 60_000);

  test("idempotent: a post that has its renditions is skipped, and further starts queue nothing", async () => {
    const s = server!;
    const { deps } = s.running;
    const [before] = await deps.database.db.select().from(posts).where(eq(posts.id, oldId));
    const again = await addRenditions(
      deps,
      { id: "manual", type: ADD_RENDITIONS, payload: { postId: oldId }, attempt: 1, maxAttempts: 1 } as never,
      { signal: new AbortController().signal, progress: async () => {} } as never,
    );
    expect(again).toEqual({ skipped: "has its renditions" });
    expect(await queueMissingRenditions(deps)).toBe(0);
    const [after] = await deps.database.db.select().from(posts).where(eq(posts.id, oldId));
    expect(after).toEqual(before!);
    await s.stop({ keepData: true });
    server = await startRealtime(ENV, {}, dataDir);
    expect(await renditionJobs(server)).toHaveLength(2);
  }, 60_000);

  test("a post missing only its PNG gets it from its stored peaks, without a new Ogg", async () => {
    const s = server!;
    const { deps } = s.running;
    const [row] = await deps.database.db.select().from(posts).where(eq(posts.id, oldId));
    await deps.storage.delete(row!.waveformPngKey!);
    await deps.database.db.update(posts).set({ waveformPngKey: null }).where(eq(posts.id, oldId));
    const ctx = { signal: new AbortController().signal, progress: async () => {} } as never;
    const r = await addRenditions(deps, { id: "manual", type: ADD_RENDITIONS, payload: { postId: oldId }, attempt: 1, maxAttempts: 1 } as never, ctx);
    expect(r).toEqual({ ogg: false, png: true });
    const [now] = await deps.database.db.select().from(posts).where(eq(posts.id, oldId));
    expect(now!.oggKey).toBe(row!.oggKey);
    expect(now!.waveformPngKey).toMatch(/\.png$/);
    expect(now!.waveformPngKey).not.toBe(row!.waveformPngKey);
    // Posts that are not ready, or gone, are left alone.
    const gone = await addRenditions(
      deps,
      { id: "manual", type: ADD_RENDITIONS, payload: { postId: "no-such-post" }, attempt: 1, maxAttempts: 1 } as never,
      ctx,
    );
    expect(gone).toEqual({ skipped: "not a ready post" });
    const [n] = await deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM posts WHERE ogg_key IS NULL AND status = 'ready'`);
    expect(Number(n!.n)).toBe(1); // only the one whose original is lost
    const failed = await deps.database.db
      .select()
      .from(jobs)
      .where(and(eq(jobs.type, ADD_RENDITIONS), eq(jobs.status, "failed")));
    expect(failed).toHaveLength(1);
  }, 60_000);
});

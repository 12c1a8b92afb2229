// The loop upload with STORAGE=s3 against a real S3-compatible server (@20minutes/s3rver, which checks SigV4
// signatures, path style), with and without CDN_BASE_URL. The app is served on a real port so that the URLs it
// hands out are followed the way a client follows them: a plain `fetch`, no headers, redirects followed.
// The bucket is inspected through the S3 API itself: a deleted post or a refused upload leaves no object in it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { sql } from "drizzle-orm";
import { inspectMp3 } from "../../src/audio/mp3.ts";
import { registerProcessLoop } from "../../src/audio/process-loop.ts";
import { decode, lavfi, measure, signals } from "../support/audio.ts";
import { json, registerUser } from "../support/auth.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { freePort } from "../support/net.ts";
import { S3RVER_KEY_ID, S3RVER_SECRET, s3StorageEnv, startS3rver, type S3rverHandle } from "../support/s3.ts";

const work = mkdtempSync(join(tmpdir(), "sc-upload-s3-"));
let drumsWav: string;
let silenceWav: string;
beforeAll(async () => {
  drumsWav = await lavfi(join(work, "drums.wav"), signals.drums(4), ["-c:a", "pcm_s16le", "-f", "wav"]);
  silenceWav = await lavfi(join(work, "silence.wav"), signals.silence(2), ["-c:a", "pcm_s16le", "-f", "wav"]);
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Ctx = {
  s3: S3rverHandle;
  env: TestEnv;
  server: ReturnType<typeof Bun.serve>;
  admin: S3Client;
  token: string;
  publicUrl: string;
  cdn?: string;
  stored: string[];
};

async function startAll(withCdn: boolean): Promise<Ctx> {
  const s3 = await startS3rver(withCdn ? "sidechain-cdn" : "sidechain-presigned");
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  // s3rver serves objects to anonymous GETs, so the bucket's own URL stands in for a public CDN in front of it.
  const cdn = withCdn ? `${s3.endpoint}/${s3.bucket}` : undefined;
  const env = await createTestEnv("sqlite", {
    PUBLIC_URL: publicUrl,
    ...s3StorageEnv(s3),
    ...(cdn ? { CDN_BASE_URL: cdn } : {}),
  });
  // Every key the app stores is noted (to know a refused upload did reach the bucket before it was cleaned up).
  const stored: string[] = [];
  const storage = env.deps.storage;
  const put = storage.put.bind(storage);
  storage.put = (key, body, opts) => (stored.push(key), put(key, body, opts));
  registerProcessLoop(env.deps);
  await env.deps.jobs.start();
  const server = Bun.serve({ port, hostname: "127.0.0.1", fetch: (req) => env.app.handle(req) });
  const admin = new S3Client({
    endpoint: s3.endpoint,
    region: "auto",
    forcePathStyle: true,
    credentials: { accessKeyId: S3RVER_KEY_ID, secretAccessKey: S3RVER_SECRET },
  });
  const { auth } = await registerUser(env);
  return { s3, env, server, admin, token: auth.token, publicUrl, cdn, stored };
}

async function stopAll(ctx: Ctx | undefined) {
  if (!ctx) return;
  ctx.server.stop(true);
  await ctx.env.close();
  ctx.admin.destroy();
  await ctx.s3.stop();
}

/** Every key in the bucket, read through the S3 API. */
async function bucketKeys(ctx: Ctx): Promise<string[]> {
  const out = await ctx.admin.send(new ListObjectsV2Command({ Bucket: ctx.s3.bucket }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

async function rowCounts(env: TestEnv) {
  const [p] = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM posts`);
  const [j] = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM jobs`);
  return { posts: Number(p!.n), jobs: Number(j!.n) };
}

function form(path: string | Blob, fields: Record<string, string> = {}) {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  f.set("audio_file", typeof path === "string" ? Bun.file(path) : path, "loop.wav");
  return f;
}

for (const withCdn of [false, true]) {
  describe(`upload with STORAGE=s3 ${withCdn ? "and CDN_BASE_URL" : "(presigned URLs)"}`, () => {
    let ctx: Ctx;
    beforeAll(async () => {
      ctx = await startAll(withCdn);
    }, 60_000);
    afterAll(() => stopAll(ctx));

    test("a WAV comes back ready; its MP3, peaks and waveform are read by a plain fetch; deleting the post empties the bucket", async () => {
      const { env, token } = ctx;
      const res = await env.request("/api/v1/audio/upload", { method: "POST", body: form(drumsWav, { filename: "S3 drums", bpm: "120" }), token });
      const post = await json(res);
      expect(res.status).toBe(201);
      expect(post).toMatchObject({ status: "ready", post_id: post.id, filename: "S3 drums" });

      // Original, MP3, Ogg, peaks, SVG, PNG and share card are in the bucket under the post's prefix, nothing else.
      const keys = await bucketKeys(ctx);
      expect(keys).toHaveLength(7);
      expect(keys.every((k) => k.startsWith(`loops/${post.id}/`))).toBe(true);
      expect(keys.map((k) => k.split(".").pop()).sort()).toEqual(["json", "mp3", "ogg", "png", "png", "svg", "wav"]);

      const key = new URL(post.audio_url).pathname.split("/").slice(-3).join("/");
      expect(keys).toContain(key);
      if (ctx.cdn) {
        // The CDN's URL, unsigned; and PUBLIC_URL/media/<key> still leads there.
        expect(post.audio_url).toBe(`${ctx.cdn}/${key}`);
        const media = await fetch(`${ctx.publicUrl}/media/${key}`, { redirect: "manual" });
        expect(media.status).toBe(302);
        expect(media.headers.get("location")).toBe(`${ctx.cdn}/${key}`);
      } else {
        // PUBLIC_URL/media/<key>, answered with a redirect to a presigned GET on the bucket.
        expect(post.audio_url).toBe(`${ctx.publicUrl}/media/${key}`);
        const media = await fetch(post.audio_url, { redirect: "manual" });
        expect(media.status).toBe(302);
        const location = new URL(media.headers.get("location")!);
        expect(`${location.origin}${location.pathname}`).toBe(`${ctx.s3.endpoint}/${ctx.s3.bucket}/${key}`);
        expect(location.searchParams.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
        expect(location.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
        // The signature is really checked: a tampered one is refused.
        location.searchParams.set("X-Amz-Signature", "0".repeat(64));
        expect((await fetch(location)).status).toBe(403);
      }

      // A plain fetch (redirects followed, no headers) reads the delivered MP3, the Ogg and the PNG.
      const ogg = await fetch(post.audio_url);
      expect(ogg.headers.get("content-type")).toBe("audio/ogg");
      expect(new TextDecoder().decode((await ogg.bytes()).subarray(0, 4))).toBe("OggS");
      const png = await fetch(post.waveform_url);
      expect(png.headers.get("content-type")).toBe("image/png");
      expect(new TextDecoder().decode((await png.bytes()).subarray(1, 4))).toBe("PNG");
      const mp3 = await fetch(post.mp3_url);
      expect(mp3.status).toBe(200);
      expect(mp3.headers.get("content-type")).toBe("audio/mpeg");
      const bytes = new Uint8Array(await mp3.arrayBuffer());
      const info = inspectMp3(bytes)!;
      expect(info.cbrKbps).toBe(128);
      expect(info.sampleRate).toBe(44100);
      expect(info.xing?.tag).toBe("Info");
      const file = join(work, `${post.id}.mp3`);
      await Bun.write(file, bytes);
      const m = await measure(file);
      expect(Math.abs(m.lufs + 14)).toBeLessThanOrEqual(1);
      expect(m.truePeakDb).toBeLessThanOrEqual(-1);
      expect(Math.abs((await decode(file)).frames - 4 * 44100)).toBeLessThanOrEqual(1152);

      const peaks = await (await fetch(post.peaks_url)).json();
      expect(peaks).toHaveLength(800);
      const svg = await fetch(post.waveform_svg_url);
      expect(svg.headers.get("content-type")).toBe("image/svg+xml");
      expect(await svg.text()).toContain("<svg");

      expect((await json(await env.request(`/api/v1/audio/status/${post.id}`, { token }))).status).toBe("ready");

      // Deleting the post removes every object from the bucket, and the URLs stop serving.
      const del = await env.request(`/api/v1/posts/${post.id}/delete`, { method: "POST", token });
      expect(del.status).toBe(200);
      expect(await bucketKeys(ctx)).toEqual([]);
      expect((await fetch(post.audio_url)).status).toBe(404);
      expect((await env.request(`/api/v1/posts/${post.id}`)).status).toBe(404);
    }, 60_000);

    test("refused uploads leave no object in the bucket and no rows", async () => {
      const { env, token } = ctx;
      const before = await rowCounts(env);
      const storedBefore = ctx.stored.length;
      // Refused by the type check before anything is stored.
      const random = await env.request("/api/v1/audio/upload", { method: "POST", body: form(new Blob([crypto.getRandomValues(new Uint8Array(4096))])), token });
      expect(random.status).toBe(415);
      expect((await json(random)).error).toBe("unsupported_format");
      expect(await bucketKeys(ctx)).toEqual([]);
      expect(ctx.stored.length).toBe(storedBefore);
      // Refused by processing, after the original was stored in the bucket: it is removed again.
      const silent = await env.request("/api/v1/audio/upload", { method: "POST", body: form(silenceWav), token });
      const answer = await json(silent);
      expect({ status: silent.status, error: answer.error }).toEqual({ status: 422, error: "silent" });
      expect(typeof answer.message).toBe("string");
      expect(ctx.stored.slice(storedBefore).map((k) => k.split(".").pop())).toEqual(["wav"]);
      expect(await bucketKeys(ctx)).toEqual([]);
      expect(await rowCounts(env)).toEqual(before);
      expect((await env.request("/readyz")).status).toBe(200);
    }, 60_000);
  });
}

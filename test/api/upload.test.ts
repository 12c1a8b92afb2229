// The loop upload through HTTP, as the plugin uses it: real ffmpeg on audio generated at test time, a real SQLite
// file (and sqld for the happy path), local storage on disk. Bad input changes nothing: no rows, no files, no temp
// directories, and the server keeps serving.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { decode, hourLongMp3, lavfi, measure, passesToolsCheck, playOgg, probeStream, signals, wavClaiming4GB } from "../support/audio.ts";
import { inspectOggVorbis } from "../../src/audio/ogg.ts";
import { registerProcessLoop } from "../../src/audio/process-loop.ts";
import { parseUploadMeta, uploadLoop } from "../../src/audio/upload.ts";
import { ApiError } from "../../src/http/errors.ts";
import { inspectMp3 } from "../../src/audio/mp3.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { expectError, json, registerUser } from "../support/auth.ts";

const work = mkdtempSync(join(tmpdir(), "sc-upload-"));
let drumsWav: string;
beforeAll(async () => {
  drumsWav = await lavfi(join(work, "drums.wav"), signals.drums(4), ["-c:a", "pcm_s16le", "-f", "wav"]);
}, 60_000);

async function startEnv(driver: "sqlite" | "libsql" = "sqlite", env: Record<string, string> = {}) {
  const e = await createTestEnv(driver, { PUBLIC_URL: "http://localhost", ...env });
  registerProcessLoop(e.deps);
  await e.deps.jobs.start();
  const { auth } = await registerUser(e);
  return { env: e, token: auth.token, userId: auth.user.id as string };
}

function form(file: Blob | null, fields: Record<string, string> = {}, fieldName = "audio_file", filename = "loop.wav") {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  if (file) f.set(fieldName, file, filename);
  return f;
}

const upload = (env: TestEnv, token: string, body: FormData | ReadableStream | string, headers: Record<string, string> = {}) =>
  env.request("/api/v1/audio/upload", { method: "POST", body: body as BodyInit, token, headers });

async function counts(env: TestEnv) {
  const [p] = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM posts`);
  const [j] = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM jobs`);
  const mediaDir = join(env.deps.config.DATA_DIR, "media");
  const files = existsSync(mediaDir)
    ? readdirSync(mediaDir, { recursive: true })
        .filter((f) => String(f).includes("."))
        .filter((f) => !String(f).startsWith(".tmp"))
    : [];
  return { posts: Number(p!.n), jobs: Number(j!.n), files: files.length };
}
const audioTempDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith("sidechain-audio-")).length;

for (const driver of DRIVERS) {
  describe(`upload on ${driver}`, () => {
    let ctx: Awaited<ReturnType<typeof startEnv>>;
    beforeAll(async () => {
      ctx = await startEnv(driver);
    });
    afterAll(() => ctx.env.close());

    test("a WAV from the plugin comes back ready, at −14 LUFS, as a 128 kbps MP3 with a waveform", async () => {
      const { env, token, userId } = ctx;
      const res = await upload(
        env,
        token,
        form(Bun.file(drumsWav), {
          filename: "Night drums",
          bpm: "120.0",
          key: "Am",
          genre: "lofi, hiphop",
          daw: "Ableton Live",
          duration_bars: "2",
          recording_id: "0123456789abcdef0123456789abcdef",
          sample_rate: "44100",
          channels: "2",
          unknown_field: "ignored",
        }),
      );
      const body = await json(res);
      expect(res.status).toBe(201);
      expect("error" in body).toBe(false);
      expect(body).toMatchObject({
        status: "ready",
        post_id: body.id,
        filename: "Night drums",
        bpm: 120,
        key: "Am",
        genres: ["lofi", "hiphop"],
        daw: "Ableton Live",
        duration_bars: 2,
        user_id: userId,
        is_own_post: true,
        verb: "posted",
        actor: `user:${userId}`,
        object: `loop:${body.id}`,
      });
      // audio_url is what the plugin plays (plugin/src/audio/HttpAudioPlayer.cpp reads Ogg Vorbis, never MP3);
      // the MP3 stays for browsers under mp3_url.
      expect(body.audio_url).toMatch(/^http:\/\/localhost\/media\/loops\/.+\.ogg$/);
      expect(body.mp3_url).toMatch(/^http:\/\/localhost\/media\/loops\/.+\.mp3$/);
      expect(body.waveform_url).toMatch(/^http:\/\/localhost\/media\/loops\/.+\.png$/);
      expect(body.waveform_svg_url).toMatch(/^http:\/\/localhost\/media\/loops\/.+\.svg$/);
      expect(Math.abs(body.duration_seconds - 4)).toBeLessThan(1152 / 44100);
      expect(Math.abs(body.loudness_lufs + 14)).toBeLessThanOrEqual(1);

      // The media are served without auth, with the right headers; the MP3 measures what the post says.
      const mp3 = await env.request(new URL(body.mp3_url).pathname);
      expect(mp3.status).toBe(200);
      expect(mp3.headers.get("content-type")).toBe("audio/mpeg");
      expect(mp3.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(mp3.headers.get("x-content-type-options")).toBe("nosniff");
      const bytes = new Uint8Array(await mp3.arrayBuffer());
      const info = inspectMp3(bytes)!;
      expect(info.cbrKbps).toBe(128);
      expect(info.xing?.tag).toBe("Info"); // the LAME/Xing header that makes it gapless
      expect(info.sampleRate).toBe(44100);
      const file = join(work, `${body.id}.mp3`);
      await Bun.write(file, bytes);
      const m = await measure(file);
      expect(Math.abs(m.lufs + 14)).toBeLessThanOrEqual(1);
      expect(m.truePeakDb).toBeLessThanOrEqual(-1);
      const decoded = await decode(file);
      expect(Math.abs(decoded.frames - 4 * 44100)).toBeLessThanOrEqual(1152);

      const peaks = await (await env.request(new URL(body.peaks_url).pathname)).json();
      expect(peaks).toHaveLength(800);
      expect(peaks.every((p: number) => p >= 0 && p <= 1)).toBe(true);
      const svg = await env.request(new URL(body.waveform_svg_url).pathname);
      expect(svg.headers.get("content-type")).toContain("image/svg+xml");
      expect(await svg.text()).toContain("<svg");

      // The Ogg Vorbis the plugin plays: served as audio/ogg, −14 LUFS ±0.5 and ≤ −1 dBTP on what a Vorbis player
      // plays, exactly the input's length, ~128 kbps.
      const ogg = await env.request(new URL(body.audio_url).pathname);
      expect(ogg.status).toBe(200);
      expect(ogg.headers.get("content-type")).toBe("audio/ogg");
      const oggBytes = new Uint8Array(await ogg.arrayBuffer());
      const oggFile = join(work, `${body.id}.ogg`);
      await Bun.write(oggFile, oggBytes);
      expect(probeStream(oggFile)).toMatchObject({ codec_name: "vorbis", sample_rate: "44100", channels: 2 });
      const vorbis = inspectOggVorbis(oggBytes)!;
      expect(vorbis).toMatchObject({ samples: 4 * 44100, nominalBitrate: 128_000 });
      expect((oggBytes.length * 8) / 4 / 1000).toBeLessThanOrEqual(160);
      const played = await playOgg(oggFile, vorbis.samples, work);
      expect(Math.abs(played.lufs + 14)).toBeLessThanOrEqual(0.5);
      expect(played.truePeakDb).toBeLessThanOrEqual(-1);
      // The PNG the plugin's card decodes (plugin/src/ui/common/WaveformImageView.cpp).
      const png = await env.request(new URL(body.waveform_url).pathname);
      expect(png.headers.get("content-type")).toBe("image/png");
      const pngBytes = new Uint8Array(await png.arrayBuffer());
      expect([...pngBytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(new DataView(pngBytes.buffer).getUint32(16)).toBe(1800);

      // GET /posts/{id} and the status endpoint agree.
      expect((await json(await env.request(`/api/v1/posts/${body.id}`))).status).toBe("ready");
      const status = await json(await env.request(`/api/v1/audio/status/${body.id}`, { token }));
      expect(status).toMatchObject({ status: "ready", progress: 100 });
      // The owner's post list has it.
      const list = await json(await env.request(`/api/v1/users/${userId}/posts`, { token }));
      expect(list.posts.map((p: { id: string }) => p.id)).toContain(body.id);
      expect(list.total).toBeGreaterThanOrEqual(1);

      // A retried upload with the same recording_id returns the same post, not a second one.
      const again = await upload(env, token, form(Bun.file(drumsWav), { recording_id: "0123456789ABCDEF0123456789ABCDEF" }));
      expect(again.status).toBe(200);
      expect((await json(again)).id).toBe(body.id);
    }, 60_000);
  });
}

describe("upload answers", () => {
  let ctx: Awaited<ReturnType<typeof startEnv>>;
  beforeAll(async () => {
    ctx = await startEnv("sqlite", { UPLOAD_MAX_BYTES: String(5 * 1024 * 1024) });
  });
  afterAll(() => ctx.env.close());

  const ascii = (s: string) => new TextEncoder().encode(s);
  async function refused(body: FormData | ReadableStream | string, status: number, code: string, headers?: Record<string, string>) {
    const before = await counts(ctx.env);
    const temps = audioTempDirs();
    const res = await upload(ctx.env, ctx.token, body, headers);
    const answer = await expectError(res, status, code);
    expect(await counts(ctx.env)).toEqual(before);
    expect(audioTempDirs()).toBe(temps);
    expect((await ctx.env.request("/readyz")).status).toBe(200);
    return answer;
  }

  test("an empty file", () => refused(form(new Blob([])), 422, "empty_file"));
  test("random bytes", () => refused(form(new Blob([crypto.getRandomValues(new Uint8Array(4096))])), 415, "unsupported_format"));
  test("a PNG named .wav", () =>
    refused(
      form(new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Uint8Array(100)])]), {}, "audio_file", "loop.wav"),
      415,
      "unsupported_format",
    ));
  test("a text file named .wav", () => refused(form(new Blob([ascii("just some notes about my loop\n")])), 415, "unsupported_format"));
  test("an HLS playlist disguised as audio", () =>
    refused(
      form(new Blob([ascii("RIFF"), new Uint8Array([0, 1, 0, 0]), ascii("WAVE#EXTM3U\n#EXTINF:10,\nhttp://127.0.0.1:9/segment.ts\n#EXT-X-ENDLIST\n")])),
      422,
      "corrupt_audio",
    ));
  test("an ffconcat script disguised as audio", () =>
    refused(form(new Blob([ascii("ffconcat version 1.0\nfile 'http://127.0.0.1:9/a.wav'\n")])), 415, "unsupported_format"));

  test("a truncated WAV", async () => {
    const bytes = new Uint8Array(await Bun.file(drumsWav).arrayBuffer());
    await refused(form(new Blob([bytes.subarray(0, 30)])), 422, "corrupt_audio");
  });

  test("a WAV whose header claims 4 GB", async () => {
    const bytes = wavClaiming4GB(new Uint8Array(await Bun.file(drumsWav).arrayBuffer()));
    await refused(form(new Blob([bytes])), 422, "corrupt_audio");
  });

  test("a WAV followed by zero bytes is refused before ffprobe, naming the extra bytes", async () => {
    const wav = new Uint8Array(await Bun.file(drumsWav).arrayBuffer());
    const zeros = new Uint8Array(4 * 1024 * 1024);
    const a = await refused(form(new Blob([wav, zeros])), 422, "corrupt_audio");
    expect(a.message).toBe(`The WAV file has ${zeros.length} bytes after the end of its audio; export it again`);
  });

  test("a processing failure answers 500 processing_failed; an input refusal found while processing keeps its 422", async () => {
    // An ffmpeg that dies of a signal (ffprobe is the real one, so the upload's checks pass): our failure, 500.
    const crashing = join(work, "crashing-ffmpeg");
    await Bun.write(crashing, `#!/bin/sh\n${passesToolsCheck()}kill -SEGV $$\n`);
    chmodSync(crashing, 0o755);
    const broken = await startEnv("sqlite", { FFMPEG_PATH: crashing, JOB_MAX_ATTEMPTS: "1" });
    try {
      const res = await upload(broken.env, broken.token, form(Bun.file(drumsWav)));
      await expectError(res, 500, "processing_failed");
      expect(await counts(broken.env)).toEqual({ posts: 0, jobs: 0, files: 0 });
    } finally {
      await broken.env.close();
    }
    const silent = await lavfi(join(work, "silent.wav"), signals.silence(2), ["-c:a", "pcm_s16le", "-f", "wav"]);
    await refused(form(Bun.file(silent)), 422, "silent");
  }, 60_000);

  test("the upload service refuses a file over UPLOAD_MAX_BYTES whatever the route let through", async () => {
    const small = await startEnv("sqlite", { UPLOAD_MAX_BYTES: "4096" });
    try {
      const wav = new Uint8Array(await Bun.file(drumsWav).arrayBuffer());
      const file = new File([wav.subarray(0, 4097)], "loop.wav");
      const err = await uploadLoop(small.env.deps, small.userId, file, parseUploadMeta({}, null)).catch((e) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect([err.status, err.code]).toEqual([413, "payload_too_large"]);
      expect(err.message).toContain("4096 bytes");
      expect(await counts(small.env)).toEqual({ posts: 0, jobs: 0, files: 0 });
    } finally {
      await small.env.close();
    }
  });

  test("an MP3 lasting an hour at 8 kbps is refused before decoding", async () => {
    await refused(form(new Blob([await hourLongMp3(work)])), 422, "too_long");
  });

  test("an upload over the size limit is refused while it streams, without buffering it", async () => {
    let sent = 0;
    const boundary = "----sidechain-test";
    const head = ascii(`--${boundary}\r\nContent-Disposition: form-data; name="audio_file"; filename="big.wav"\r\nContent-Type: audio/wav\r\n\r\n`);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(head);
      },
      pull(c) {
        if (sent > 20 * 1024 * 1024) return c.close();
        sent += 64 * 1024;
        c.enqueue(new Uint8Array(64 * 1024));
      },
    });
    await refused(stream, 413, "payload_too_large", { "content-type": `multipart/form-data; boundary=${boundary}` });
    expect(sent).toBeLessThan(7 * 1024 * 1024);
  });

  test("a declared Content-Length over the limit is refused before reading", () =>
    refused("x", 413, "payload_too_large", { "content-type": "multipart/form-data; boundary=x", "content-length": String(10 * 1024 * 1024) }));

  test("no file field, bad bpm, bad recording_id: validation errors naming the fields", async () => {
    const a = await refused(form(null, { filename: "x" }), 400, "validation_error");
    expect(Object.keys(a.fields)).toEqual(["audio_file"]);
    const b = await refused(form(Bun.file(drumsWav), { bpm: "fast", key: "H", recording_id: "../../etc" }), 400, "validation_error");
    expect(Object.keys(b.fields).sort()).toEqual(["bpm", "recording_id"]);
  });

  test('the plugin\'s key names are read (its form defaults to "C major", plugin/src/network/api/AudioClient.cpp); one we cannot read is unknown, not a refusal', async () => {
    const named = await json(await upload(ctx.env, ctx.token, form(Bun.file(drumsWav), { key: "C major", filename: "named key" })));
    expect(named.key).toBe("C");
    const minor = await json(await upload(ctx.env, ctx.token, form(Bun.file(drumsWav), { key: "F# minor", filename: "minor key" })));
    expect(minor.key).toBe("F#m");
    const odd = await upload(ctx.env, ctx.token, form(Bun.file(drumsWav), { key: "H dorian", filename: "odd key" }));
    expect(odd.status).toBe(201);
    expect((await json(odd)).key).toBe("");
  }, 60_000);

  test("without a token: 401", async () => {
    const res = await ctx.env.request("/api/v1/audio/upload", { method: "POST", body: form(Bun.file(drumsWav)) });
    expect(res.status).toBe(401);
  });

  test("a filename with ../ and NUL bytes is display text only; the file is accepted under a server key", async () => {
    const res = await upload(ctx.env, ctx.token, form(Bun.file(drumsWav), { filename: "../../etc/passwd\u0000.wav" }, "file", "../../../evil.wav"));
    const body = await json(res);
    expect(res.status).toBe(201);
    expect(body.filename).toBe("../../etc/passwd.wav");
    expect(body.audio_url).not.toContain("..");
    expect(existsSync(join(ctx.env.deps.config.DATA_DIR, "..", "etc"))).toBe(false);
  }, 60_000);

  test("a NUL byte inside a part's header (not allowed in a header) is 400 invalid_form and stores nothing", async () => {
    const before = await counts(ctx.env);
    const res = await upload(ctx.env, ctx.token, form(Bun.file(drumsWav), {}, "file", "../../../evil\u0000.wav"));
    expect(res.status).toBe(400);
    expect((await json(res)).error).toBe("invalid_form");
    expect(await counts(ctx.env)).toEqual(before);
  }, 60_000);

  test("deleting a post removes its row and every media object", async () => {
    const res = await upload(ctx.env, ctx.token, form(Bun.file(drumsWav), {}, "file"));
    const post = await json(res);
    const before = await counts(ctx.env);
    const postCount = async () => (await json(await ctx.env.request("/api/v1/users/me", { token: ctx.token }))).post_count;
    const countBefore = await postCount();
    expect(countBefore).toBeGreaterThanOrEqual(1);
    expect((await ctx.env.request(`/api/v1/posts/${post.id}/delete`, { method: "POST", token: ctx.token })).status).toBe(200);
    const after = await counts(ctx.env);
    expect(after.posts).toBe(before.posts - 1);
    expect(after.files).toBe(before.files - 7); // original, MP3, Ogg, peaks, SVG, PNG, share card
    expect(await postCount()).toBe(countBefore - 1);
    expect((await ctx.env.request(new URL(post.audio_url).pathname)).status).toBe(404);
    expect((await ctx.env.request(`/api/v1/posts/${post.id}`)).status).toBe(404);
  }, 60_000);
});

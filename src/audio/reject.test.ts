// Bad uploads: each one is refused with a typed AudioError whose code the route maps to the contract's error body,
// nothing outbound happens, and no temp directory is left behind.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AudioError } from "./errors.ts";
import { createFfmpegRunner, type FfmpegRunner, type Tool } from "./ffmpeg.ts";
import { inspectAudio, processAudio } from "./pipeline.ts";
import { convert, hangingBinary, hourLongMp3, lavfi, signals, wavClaiming4GB } from "../../test/support/audio.ts";

const root = mkdtempSync(join(tmpdir(), "sc-reject-"));
const work = join(root, "work");
const src = join(root, "src");
mkdirSync(work);
mkdirSync(src);
const runner = createFfmpegRunner({ tempDir: work, concurrency: 2 });

/** A runner that records which tools were started. */
function spying(inner: FfmpegRunner): FfmpegRunner & { calls: Tool[] } {
  const calls: Tool[] = [];
  return { ...inner, calls, run: (tool, args, o) => (calls.push(tool), inner.run(tool, args, o)) };
}

async function refusal(input: { path: string } | { bytes: Uint8Array }, r: FfmpegRunner = runner): Promise<AudioError> {
  try {
    await processAudio(r, input);
  } catch (e) {
    if (e instanceof AudioError) return e;
    throw e;
  }
  throw new Error("expected the upload to be refused");
}

// A local server standing in for "the internet": any request reaching it is a failure.
let hits = 0;
const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (hits++, new Response("#EXTM3U\n")) });
const url = `http://127.0.0.1:${server.port}`;

let wav: string;
beforeAll(async () => {
  wav = await lavfi(join(src, "ok.wav"), signals.produced(2), ["-c:a", "pcm_s16le", "-f", "wav"]);
});

afterEach(() => {
  expect(readdirSync(work)).toEqual([]);
  expect(hits).toBe(0);
});

afterAll(() => {
  server.stop(true);
  rmSync(root, { recursive: true, force: true });
});

const ascii = (s: string) => new TextEncoder().encode(s);

describe("bad uploads are refused with a typed error", () => {
  test("an empty file", async () => {
    const e = await refusal({ bytes: new Uint8Array(0) });
    expect(e.code).toBe("empty_file");
    expect(e.retryable).toBe(false);
  });

  test("random bytes", async () => {
    const bytes = new Uint8Array(64 * 1024);
    let x = 12345;
    for (let i = 0; i < bytes.length; i++) bytes[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    expect((await refusal({ bytes })).code).toBe("unsupported_format");
  });

  test("a PNG named .wav", async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, ...ascii("IHDR"), ...new Uint8Array(64)]);
    const path = join(src, "image.wav");
    writeFileSync(path, png);
    const e = await refusal({ path });
    expect(e.code).toBe("unsupported_format");
    expect(e.status).toBe(415);
  });

  test("a text file", async () => {
    expect((await refusal({ bytes: ascii("These are my lyrics, not a loop.\n".repeat(50)) })).code).toBe("unsupported_format");
  });

  test("a truncated WAV", async () => {
    const whole = new Uint8Array(await Bun.file(wav).arrayBuffer());
    const e = await refusal({ bytes: whole.slice(0, Math.floor(whole.length / 2)) });
    expect(e.code).toBe("corrupt_audio");
    expect(e.message).toContain("truncated");
  });

  test("a truncated FLAC (its STREAMINFO says longer than what decodes)", async () => {
    const flac = await convert(wav, join(src, "whole.flac"), ["-c:a", "flac", "-f", "flac"]);
    const whole = new Uint8Array(await Bun.file(flac).arrayBuffer());
    const e = await refusal({ bytes: whole.slice(0, Math.floor(whole.length / 2)) });
    expect(e.code).toBe("corrupt_audio");
    expect(e.message).toContain("truncated");
  });

  test("inspectAudio refuses the same without decoding (for the upload route to answer at once)", async () => {
    const whole = new Uint8Array(await Bun.file(wav).arrayBuffer());
    const cut = join(src, "cut.wav");
    await Bun.write(cut, whole.slice(0, 5000));
    const spy = spying(runner);
    expect(await inspectAudio(spy, cut).catch((e) => e.code)).toBe("corrupt_audio");
    expect(spy.calls).toEqual([]);
    expect(await inspectAudio(spy, wav)).toMatchObject({ format: "wav", codec: "pcm_s16le", channels: 2, sampleRate: 44100 });
    expect(spy.calls).toEqual(["ffprobe"]);
  });

  test("zero bytes after the declared end of a WAV, AIFF, FLAC or MP3 are refused before ffprobe runs", async () => {
    const tail = new Uint8Array(1 << 20);
    const spy = spying(runner);
    const made = {
      wav,
      aiff: await convert(wav, join(src, "t.aiff"), ["-c:a", "pcm_s16be", "-f", "aiff"]),
      flac: await convert(wav, join(src, "t.flac"), ["-c:a", "flac", "-f", "flac"]),
      mp3: await convert(wav, join(src, "t.mp3"), ["-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3"]),
    };
    for (const [format, path] of Object.entries(made)) {
      const bytes = new Uint8Array([...new Uint8Array(await Bun.file(path).arrayBuffer()), ...tail]);
      if (format === "wav") new DataView(bytes.buffer).setUint32(4, bytes.length - 8, true); // a RIFF size covering the zeros changes nothing
      const e = await refusal({ bytes }, spy);
      expect([format, e.code, e.status]).toEqual([format, "corrupt_audio", 422]);
      expect(e.message).toMatch(new RegExp(`^The ${format.toUpperCase()} file has \\d+ bytes after the end of its audio`));
      if (format !== "flac") expect(e.message).toContain(`has ${tail.length} bytes`); // FLAC's end is an upper bound
    }
    expect(spy.calls).toEqual([]);
  });

  test("zero bytes or hundreds of empty chunks before a WAV's data chunk are refused before ffprobe runs", async () => {
    const whole = new Uint8Array(await Bun.file(wav).arrayBuffer());
    const data = new TextDecoder("latin1").decode(whole.subarray(0, 200)).indexOf("data");
    const insert = (extra: Uint8Array) => new Uint8Array([...whole.subarray(0, data), ...extra, ...whole.subarray(data)]);
    const spy = spying(runner);
    expect((await refusal({ bytes: insert(new Uint8Array(1 << 20)) }, spy)).message).toMatch(
      /^The WAV file has \d+ bytes that are not a chunk before its data chunk$/,
    );
    const junk = new Uint8Array(300 * 8);
    for (let i = 0; i < 300; i++) junk.set(ascii("JUNK"), i * 8);
    expect((await refusal({ bytes: insert(junk) }, spy)).message).toContain("more than 256 chunks");
    expect(spy.calls).toEqual([]);
  });

  test("chunks a tagger adds stay accepted: LIST and a 200 KB id3 chunk after the data, a trailing ID3v1 tag", async () => {
    const whole = new Uint8Array(await Bun.file(wav).arrayBuffer());
    const chunk = (id: string, size: number) => {
      const c = new Uint8Array(8 + size + (size & 1)).fill(0x41, 8, 8 + size);
      c.set(ascii(id));
      new DataView(c.buffer).setUint32(4, size, true);
      return c;
    };
    const tagged = new Uint8Array([...whole, ...chunk("LIST", 41), ...chunk("id3 ", 200_001)]);
    new DataView(tagged.buffer).setUint32(4, tagged.length - 8, true);
    const id3v1 = new Uint8Array(128).fill(0x20);
    id3v1.set(ascii("TAGMy loop"));
    const path = join(src, "tagged.wav");
    await Bun.write(path, new Uint8Array([...tagged, ...id3v1]));
    expect(await inspectAudio(runner, path)).toMatchObject({ format: "wav", channels: 2 });
  });

  test("a WAV cut inside its header", async () => {
    const whole = new Uint8Array(await Bun.file(wav).arrayBuffer());
    expect((await refusal({ bytes: whole.slice(0, 30) })).code).toBe("corrupt_audio");
  });

  test("a WAV whose header claims 4 GB", async () => {
    const bytes = wavClaiming4GB(new Uint8Array(await Bun.file(wav).arrayBuffer()));
    const e = await refusal({ bytes });
    expect(e.code).toBe("corrupt_audio");
    expect(e.message).toContain("4294967280");
  });

  test("an HLS playlist disguised as audio makes no outbound request", async () => {
    const playlist = `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n${url}/segment.ts\n#EXT-X-ENDLIST\n`;
    expect((await refusal({ bytes: ascii(playlist) })).code).toBe("unsupported_format");
    // Behind a WAV header it gets past the sniffer, but ffprobe is forced to read it as WAV and fails.
    const disguised = new Uint8Array([...ascii("RIFF"), 0, 1, 0, 0, ...ascii("WAVE"), ...ascii(playlist)]);
    expect((await refusal({ bytes: disguised })).code).toBe("corrupt_audio");
  });

  test("an ffconcat script disguised as audio makes no outbound request", async () => {
    const script = `ffconcat version 1.0\nfile '${url}/a.wav'\nfile '/etc/passwd'\n`;
    expect((await refusal({ bytes: ascii(script) })).code).toBe("unsupported_format");
    const disguised = new Uint8Array([...ascii("ID3"), 4, 0, 0, 0, 0, 0, 0, ...ascii(script)]);
    expect((await refusal({ bytes: disguised })).code).toBe("unsupported_format");
  });

  test("an MP3 lasting an hour at 8 kbps is refused from its header, before any decoding", async () => {
    const hour = await hourLongMp3(src);
    const spy = spying(runner);
    const e = await refusal({ bytes: hour }, spy);
    expect(e.code).toBe("too_long");
    expect(e.message).toContain("60.9 minutes");
    expect(spy.calls).toEqual(["ffprobe"]); // refused from the probe: nothing was decoded
  });

  test("an MP3 whose Xing header understates its length is cut at the bound while decoding", async () => {
    // A Xing header saying 10 s, followed by an hour of frames: the decode stops just past LOOP_MAX_SECONDS.
    const xing = await lavfi(join(src, "xing8.mp3"), "sine=f=440:r=8000:d=10", ["-c:a", "libmp3lame", "-b:a", "8k", "-id3v2_version", "0", "-f", "mp3"]);
    const short = await lavfi(join(src, "raw8.mp3"), "sine=f=440:r=8000:d=10", [
      "-c:a",
      "libmp3lame",
      "-b:a",
      "8k",
      "-write_xing",
      "0",
      "-id3v2_version",
      "0",
      "-f",
      "mp3",
    ]);
    const head = new Uint8Array(await Bun.file(xing).arrayBuffer());
    const body = new Uint8Array(await Bun.file(short).arrayBuffer());
    const bytes = new Uint8Array(head.length + body.length * 359);
    bytes.set(head);
    for (let i = 0; i < 359; i++) bytes.set(body, head.length + i * body.length);
    // Make the lie consistent (the header's byte count = the file size), so that ffprobe believes the 10 s.
    const info = new TextDecoder("latin1").decode(head.subarray(0, 64)).indexOf("Info");
    new DataView(bytes.buffer).setUint32(info + 12, bytes.length);
    const spy = spying(runner);
    const e = await refusal({ bytes }, spy);
    expect(spy.calls).toEqual(["ffprobe", "ffmpeg"]); // probe passed: the decode's bound caught it
    expect(e.code).toBe("too_long");
    expect(e.message).toContain("more than 120 s");
  });

  test("too short, too long, silent", async () => {
    const short = await lavfi(join(src, "short.wav"), signals.produced(0.2), ["-c:a", "pcm_s16le", "-f", "wav"]);
    expect((await refusal({ path: short })).code).toBe("too_short");
    const long = await lavfi(join(src, "long.wav"), "sine=f=440:r=8000:d=121", ["-c:a", "pcm_s16le", "-f", "wav"]);
    expect((await refusal({ path: long })).code).toBe("too_long");
    const silent = await lavfi(join(src, "silent.wav"), signals.silence(3), ["-c:a", "pcm_s16le", "-f", "wav"]);
    const e = await refusal({ path: silent });
    expect(e.code).toBe("silent");
    expect(e.status).toBe(422);
  });

  test("a codec, a sample rate or a channel count outside the allow-list", async () => {
    const adpcm = await convert(wav, join(src, "adpcm.wav"), ["-c:a", "adpcm_ms", "-f", "wav"]);
    expect((await refusal({ path: adpcm })).code).toBe("unsupported_format");
    const slow = await lavfi(join(src, "4k.wav"), "sine=f=440:r=4000:d=2", ["-c:a", "pcm_s16le", "-f", "wav"]);
    expect((await refusal({ path: slow })).code).toBe("unsupported_sample_rate");
    const wide = await convert(wav, join(src, "16ch.wav"), ["-af", "pan=hexadecagonal|c0=c0|c1=c1", "-c:a", "pcm_s16le", "-f", "wav"]);
    expect((await refusal({ path: wide })).code).toBe("unsupported_channels");
  });

  test("a hung ffmpeg is killed at the timeout", async () => {
    const marker = "31.4159";
    const hung = createFfmpegRunner({ tempDir: work, timeoutMs: 500, ffmpegPath: hangingBinary(root, marker), ffprobePath: runner.binaries.ffprobe });
    const e = await refusal({ path: wav }, hung);
    expect(e.code).toBe("timeout");
    expect(e.retryable).toBe(true);
    const ps = Bun.spawnSync(["ps", "-eo", "args"]).stdout.toString();
    expect(ps).not.toContain(`sleep ${marker}`);
  });

  test("a missing ffmpeg binary is a retryable machine error", async () => {
    const missing = createFfmpegRunner({ tempDir: work, ffmpegPath: join(root, "no-such-ffmpeg"), ffprobePath: join(root, "no-such-ffprobe") });
    const e = await refusal({ path: wav }, missing);
    expect(e.code).toBe("ffmpeg_unavailable");
    expect(e.retryable).toBe(true);
  });

  test("an abort stops the work", async () => {
    const controller = new AbortController();
    const hung = createFfmpegRunner({ tempDir: work, ffmpegPath: hangingBinary(root, "27.1828"), ffprobePath: runner.binaries.ffprobe });
    setTimeout(() => controller.abort(), 300);
    const e = await processAudio(hung, { path: wav }, {}, { signal: controller.signal }).catch((err) => err);
    expect(e).toBeInstanceOf(AudioError);
    expect(e.code).toBe("aborted");
  });
});

// The pipeline on real ffmpeg with audio generated at test time: every accepted kind of upload comes out at
// −14 LUFS (±1) and ≤ −1 dBTP measured on the delivered MP3 with ebur128=peak=true, as 128 kbps CBR 44.1 kHz with
// the gapless header, decoding to the input's length within one MP3 frame, with peaks that follow the audio. The
// Ogg Vorbis rendition the plugin plays (plugin/src/audio/HttpAudioPlayer.cpp registers WAV, AIFF, FLAC and Ogg
// only) is held to −14 LUFS ±0.5 and ≤ −1 dBTP, measured on what a Vorbis player plays, at the input's exact length.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFfmpegRunner } from "./ffmpeg.ts";
import { inspectMp3 } from "./mp3.ts";
import { type ProcessedAudio, processAudio } from "./pipeline.ts";
import { readPcmLayout } from "./sniff.ts";
import { inspectOggVorbis } from "./ogg.ts";
import { convert, decode, lavfi, measure, playOgg, probeStream, signals } from "../../test/support/audio.ts";

const root = mkdtempSync(join(tmpdir(), "sc-pipeline-"));
const work = join(root, "work"); // parent of the pipeline's private temp dirs: must end up empty
const src = join(root, "src");
mkdirSync(work);
mkdirSync(src);
const runner = createFfmpegRunner({ tempDir: work, concurrency: 2 });

type Case = {
  name: string;
  make: () => Promise<string>;
  channels: 1 | 2;
  /** Expected gain mode, when the material decides it clearly. */
  mode?: "linear" | "limiter";
};

const wav16 = ["-c:a", "pcm_s16le", "-f", "wav"];
const D = 5; // seconds: long enough for stable loudness, short enough for a quick suite

// Base material rendered once, then converted into each container/rate/width.
let drums: string, produced: string;
const cases: Case[] = [
  { name: "drum loop with sharp transients (limiter)", make: async () => drums, channels: 2, mode: "limiter" },
  { name: "quiet pad (−40 LUFS, plain gain)", make: () => lavfi(join(src, "pad.wav"), signals.quietPad(D), wav16), channels: 2, mode: "linear" },
  { name: "very loud clipped loop", make: () => lavfi(join(src, "clipped.wav"), signals.loudClipped(D), wav16), channels: 2, mode: "linear" },
  { name: "the shortest loops (0.6 s)", make: () => lavfi(join(src, "short.wav"), signals.produced(0.6), wav16), channels: 2 },
  { name: "16 s stereo 44.1 kHz produced loop", make: () => lavfi(join(src, "loop16.wav"), signals.produced(16), wav16), channels: 2 },
  { name: "mono stays mono", make: () => convert(produced, join(src, "mono.wav"), ["-ac", "1", ...wav16]), channels: 1 },
  { name: "48 kHz", make: () => convert(produced, join(src, "48k.wav"), ["-ar", "48000", ...wav16]), channels: 2 },
  { name: "96 kHz", make: () => convert(produced, join(src, "96k.wav"), ["-ar", "96000", ...wav16]), channels: 2 },
  { name: "24-bit WAV (WAVE_FORMAT_EXTENSIBLE)", make: () => convert(produced, join(src, "24bit.wav"), ["-c:a", "pcm_s24le", "-f", "wav"]), channels: 2 },
  { name: "32-bit float WAV", make: () => convert(produced, join(src, "float.wav"), ["-c:a", "pcm_f32le", "-f", "wav"]), channels: 2 },
  {
    name: "5.1 WAV is downmixed to stereo",
    make: () => convert(produced, join(src, "51.wav"), ["-af", "pan=5.1|FL=c0|FR=c1|FC=0.5*c0+0.5*c1|LFE=0*c0|BL=0.3*c0|BR=0.3*c1", ...wav16]),
    channels: 2,
  },
  { name: "AIFF", make: () => convert(produced, join(src, "loop.aiff"), ["-c:a", "pcm_s16be", "-f", "aiff"]), channels: 2 },
  { name: "AIFC (sowt)", make: () => convert(produced, join(src, "sowt.aifc"), ["-c:a", "pcm_s16le", "-f", "aiff"]), channels: 2 },
  { name: "FLAC", make: () => convert(produced, join(src, "loop.flac"), ["-c:a", "flac", "-f", "flac"]), channels: 2 },
  { name: "MP3", make: () => convert(produced, join(src, "loop.mp3"), ["-c:a", "libmp3lame", "-b:a", "192k", "-f", "mp3"]), channels: 2 },
  { name: "Ogg Vorbis", make: () => convert(produced, join(src, "loop.ogg"), ["-c:a", "libvorbis", "-q:a", "5", "-f", "ogg"]), channels: 2 },
  { name: "Ogg Opus", make: () => convert(produced, join(src, "loop.opus"), ["-c:a", "libopus", "-b:a", "128k", "-f", "ogg"]), channels: 2 },
];

type Outcome = { input: string; result: ProcessedAudio; mp3Path: string; oggPath: string };
const outcomes = new Map<string, Outcome>();
let gap: Outcome;

beforeAll(async () => {
  [drums, produced] = await Promise.all([
    lavfi(join(src, "drums.wav"), signals.drums(D), wav16),
    lavfi(join(src, "produced.wav"), signals.produced(D), ["-c:a", "pcm_f32le", "-f", "wav"]),
  ]);
  const inputs = await Promise.all(cases.map((c) => c.make()));
  const gapInput = await lavfi(join(src, "gap.wav"), signals.drumsWithGap(6, 2, 4), wav16);
  const run = async (input: string, key: string) => {
    const result = await processAudio(runner, { path: input });
    const mp3Path = join(root, `${key.replace(/\W+/g, "_")}.mp3`);
    const oggPath = join(root, `${key.replace(/\W+/g, "_")}.ogg`);
    await Promise.all([Bun.write(mp3Path, result.mp3), Bun.write(oggPath, result.ogg)]);
    return { input, result, mp3Path, oggPath };
  };
  const all = await Promise.all([...cases.map((c, i) => run(inputs[i]!, c.name)), run(gapInput, "gap")]);
  for (const [i, c] of cases.entries()) outcomes.set(c.name, all[i]!);
  gap = all[cases.length]!;
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The lag that best lines up the output with the input around the end of the gap (sound resumes at 4 s). */
function bestLag(inp: Float32Array, out: Float32Array): number {
  const from = Math.floor(3.9 * 44100),
    len = 22050;
  let best = { lag: 0, score: -Infinity };
  for (let lag = -400; lag <= 400; lag++) {
    let score = 0;
    for (let i = from; i < from + len; i++) score += inp[i * 2]! * out[(i + lag) * 2]!;
    if (score > best.score) best = { lag, score };
  }
  return best.lag;
}

describe("processAudio delivers the contract's MP3 for every accepted input", () => {
  for (const c of cases) {
    test(c.name, async () => {
      const { input, result, mp3Path } = outcomes.get(c.name)!;
      // Loudness and true peak, measured here on the delivered file with the contract's meter.
      const m = await measure(mp3Path);
      expect(Math.abs(m.lufs - -14)).toBeLessThanOrEqual(1);
      expect(m.truePeakDb).toBeLessThanOrEqual(-1);
      // What the pipeline reports is what the file measures.
      expect(Math.abs(result.measured.lufs - m.lufs)).toBeLessThanOrEqual(0.15);
      expect(Math.abs(result.measured.truePeakDb - m.truePeakDb)).toBeLessThanOrEqual(0.15);
      if (c.mode) expect(result.gainMode).toBe(c.mode);

      // 128 kbps CBR, 44.1 kHz, the input's channel layout (wider than stereo → stereo), gapless header.
      const info = inspectMp3(result.mp3)!;
      expect(info.cbrKbps).toBe(128);
      expect(info.sampleRate).toBe(44100);
      expect(info.channels).toBe(c.channels);
      expect(info.xing?.tag).toBe("Info");
      expect(info.xing?.encoderDelay).toBeGreaterThan(0);
      expect(result.measured).toMatchObject({ bitrateKbps: 128, sampleRate: 44100, channels: c.channels, gapless: true });

      // Decodes to the input's length within one MP3 frame (1152 samples at 44.1 kHz).
      const [inp, out] = await Promise.all([decode(input), decode(mp3Path)]);
      expect(Math.abs(out.frames - inp.frames)).toBeLessThanOrEqual(1152);
      expect(result.measured.sampleCount).toBe(out.frames);
      expect(Math.abs(result.input.sampleCount - inp.frames)).toBeLessThanOrEqual(1152);

      // Waveform: the fixed count, 0..1, not flat.
      expect(result.peaks).toHaveLength(800);
      expect(result.peaks.every((p) => p >= 0 && p <= 1)).toBe(true);
      expect(Math.max(...result.peaks)).toBeGreaterThan(0.1);
      expect(result.svg.startsWith("<svg")).toBe(true);
      expect(String.fromCharCode(...result.png.subarray(1, 4))).toBe("PNG");
    });

    test(`${c.name}: the Ogg Vorbis the plugin plays`, async () => {
      const { input, result, oggPath } = outcomes.get(c.name)!;
      // Codec and layout as ffprobe sees them; the bitrate close to the MP3's (libvorbis average-bitrate mode
      // at 128 kbps nominal; simple material needs fewer bits than that, never many more).
      expect(probeStream(oggPath)).toMatchObject({ codec_name: "vorbis", sample_rate: "44100", channels: c.channels });
      const info = inspectOggVorbis(result.ogg)!;
      expect(info.nominalBitrate).toBe(128_000);
      const seconds = info.samples / 44100;
      expect((result.ogg.length * 8) / seconds / 1000).toBeLessThanOrEqual(160);
      expect(result.measuredOgg.averageKbps).toBeCloseTo((result.ogg.length * 8) / seconds / 1000, 0);
      // Gapless: a Vorbis player plays exactly the input's samples.
      const inp = await decode(input);
      expect(Math.abs(info.samples - inp.frames)).toBeLessThanOrEqual(1);
      expect(info.samples).toBe(result.input.sampleCount);
      expect(result.measuredOgg).toMatchObject({ sampleCount: info.samples, gapless: true, channels: c.channels, sampleRate: 44100, nominalKbps: 128 });
      // Loudness and true peak of what is played, with the contract's meter, and as the pipeline reported them.
      const played = await playOgg(oggPath, info.samples, root);
      expect(Math.abs(played.lufs - -14)).toBeLessThanOrEqual(0.5);
      expect(played.truePeakDb).toBeLessThanOrEqual(-1);
      expect(Math.abs(result.measuredOgg.lufs - played.lufs)).toBeLessThanOrEqual(0.15);
      expect(Math.abs(result.measuredOgg.truePeakDb - played.truePeakDb)).toBeLessThanOrEqual(0.15);
    });
  }

  test("the Ogg is sample-aligned with the input too (a silent gap where the input has one)", async () => {
    const info = inspectOggVorbis(gap.result.ogg)!;
    const [inp, out] = await Promise.all([decode(gap.input), playOgg(gap.oggPath, info.samples, root)]);
    expect(bestLag(inp.samples, out.samples)).toBe(0);
    let gapPeak = 0;
    for (let i = Math.floor(2.05 * 44100) * 2; i < Math.floor(3.95 * 44100) * 2; i++) gapPeak = Math.max(gapPeak, Math.abs(out.samples[i]!));
    expect(gapPeak).toBeLessThan(0.01);
  });

  test("an Ogg that misses the loudness is encoded again on its own (the MP3 that passed is kept)", async () => {
    // Tell the pipeline Vorbis loses 1.5 LU: the first Ogg comes out ~1.5 LU too loud, the MP3 is unaffected.
    const r = await processAudio(runner, { path: produced }, { oggEncodeLossLu: 1.5 });
    expect(r.encodes).toBeGreaterThanOrEqual(2);
    const path = join(root, "ogg-again.ogg");
    await Bun.write(path, r.ogg);
    const played = await playOgg(path, inspectOggVorbis(r.ogg)!.samples, root);
    expect(Math.abs(played.lufs - -14)).toBeLessThanOrEqual(0.5);
    expect(played.truePeakDb).toBeLessThanOrEqual(-1);
    expect(Math.abs(r.measured.lufs - -14)).toBeLessThanOrEqual(0.5);
  });

  test("peaks follow the audio: a silent gap gives near-zero peaks there", () => {
    const { peaks } = gap.result;
    expect(peaks).toHaveLength(800);
    // 6 s over 800 peaks: 2..4 s is peaks 267..533; keep clear of the edges (the MP3 smears a few ms).
    const inGap = peaks.slice(275, 525);
    const outside = [...peaks.slice(0, 250), ...peaks.slice(550)];
    expect(Math.max(...inGap)).toBeLessThan(0.01);
    expect(outside.filter((p) => p > 0.05).length).toBeGreaterThan(outside.length * 0.5);
    // The peaks are those of the delivered file, bucket by bucket.
    expect(gap.result.measured.sampleCount).toBe(6 * 44100);
  });

  test("the delivered audio is sample-aligned with the input (limiter delay compensated, encoder delay trimmed)", async () => {
    expect(gap.result.gainMode).toBe("limiter");
    const [inp, out] = await Promise.all([decode(gap.input), decode(gap.mp3Path)]);
    expect(bestLag(inp.samples, out.samples)).toBe(0);
  });

  test("the loud clipped loop is turned down with a plain gain, the quiet pad up", () => {
    expect(outcomes.get("very loud clipped loop")!.result.gainDb).toBeLessThan(-6);
    expect(outcomes.get("quiet pad (−40 LUFS, plain gain)")!.result.gainDb).toBeGreaterThan(20);
  });

  test("input facts are reported from the probe and the decode", () => {
    const r = outcomes.get("96 kHz")!.result;
    expect(r.input).toMatchObject({ format: "wav", codec: "pcm_s16le", sampleRate: 96000, channels: 2, bitsPerSample: 16 });
    expect(r.input.durationSeconds).toBeCloseTo(D, 2);
    expect(outcomes.get("Ogg Opus")!.result.input).toMatchObject({ format: "ogg", codec: "opus" });
    expect(outcomes.get("5.1 WAV is downmixed to stereo")!.result.input.channels).toBe(6);
    expect(outcomes.get("AIFC (sowt)")!.result.input).toMatchObject({ format: "aiff", codec: "pcm_s16le" });
  });

  test("the 24-bit WAV really is WAVE_FORMAT_EXTENSIBLE", async () => {
    const path = outcomes.get("24-bit WAV (WAVE_FORMAT_EXTENSIBLE)")!.input;
    const head = new Uint8Array(await Bun.file(path).slice(0, 4096).arrayBuffer());
    expect(readPcmLayout(head, Bun.file(path).size, "wav")).toMatchObject({ extensible: true, codec: "0x0001", bitsPerSample: 24 });
  });

  test("bytes in memory work like a path, and progress is reported in order", async () => {
    const stages: string[] = [];
    const bytes = new Uint8Array(await Bun.file(produced).arrayBuffer());
    const r = await processAudio(runner, { bytes }, {}, { onProgress: (s) => stages.push(s) });
    expect(Math.abs(r.measured.lufs - -14)).toBeLessThanOrEqual(1);
    expect(stages.slice(0, 2)).toEqual(["probe", "analyse"]);
    expect(stages.at(-1)).toBe("verify");
  });

  test("options: another target and bitrate", async () => {
    const r = await processAudio(runner, { path: produced }, { targetLufs: -16, mp3BitrateKbps: 192, waveformPeaks: 100 });
    const path = join(root, "opt.mp3");
    await Bun.write(path, r.mp3);
    const m = await measure(path);
    expect(Math.abs(m.lufs - -16)).toBeLessThanOrEqual(1);
    expect(inspectMp3(r.mp3)!.cbrKbps).toBe(192);
    expect(r.peaks).toHaveLength(100);
  });

  test("a delivered file that misses the loudness is encoded again with a corrected aim", async () => {
    // No allowance for the encoder's loss and a tight tolerance: the first encode comes out ~0.5 LU short.
    const r = await processAudio(runner, { path: produced }, { encodeLossLu: 0, loudnessToleranceLu: 0.2 });
    expect(r.encodes).toBeGreaterThanOrEqual(2);
    const path = join(root, "again.mp3");
    await Bun.write(path, r.mp3);
    expect(Math.abs((await measure(path)).lufs - -14)).toBeLessThanOrEqual(0.2);
  });

  test("no temp directory is left behind", () => {
    expect(readdirSync(work)).toEqual([]);
  });
});

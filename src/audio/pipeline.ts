// The whole audio pipeline for one upload: bytes in, a normalised gapless MP3, waveform peaks, an SVG and the
// measured figures out. No database, no storage: the process-loop job calls processAudio() and stores the result.
// Every step that touches ffmpeg goes through the runner (ffmpeg.ts), with the arguments built in plan.ts.
//
// Steps (plan.ts explains the ffmpeg side): sniff → probe → analyse → [limit] → encode → verify. The loudness
// target is checked on the delivered MP3, not predicted: MP3 encoding lowers loudness a little and adds peaks, so
// when the measured file misses (loudness off by more than the tolerance, or true peak over the ceiling) it is
// encoded again with a corrected aim, at most `maxEncodes` times in all.
import { join } from "node:path";
import { AudioError } from "./errors.ts";
import type { FfmpegRunner } from "./ffmpeg.ts";
import {
  type Aim,
  correctAim,
  decideGain,
  isGoodLimiterPoint,
  LIMIT_MARGIN_DB,
  type LimiterPoint,
  type Loudness,
  nextLimiterGains,
  parseEbur128Summary,
  pickLimiterPoint,
  shiftLimiterPoint,
} from "./loudness.ts";
import { inspectMp3 } from "./mp3.ts";
import { type AudioOptions, resolveAudioOptions } from "./options.ts";
import { PeakAccumulator } from "./peaks.ts";
import { analyseArgs, encodeArgs, limitArgs, OUTPUT_SAMPLE_RATE, outputChannels, verifyArgs } from "./plan.ts";
import { probeAudio, type ProbeResult } from "./probe.ts";
import { type AudioFormat, declaredExtent, SNIFF_BYTES, sniffFormat, TRAILING_MARGIN } from "./sniff.ts";
import { renderWaveformSvg, type WaveformSvgOptions } from "./svg.ts";

export { type AudioOptions, DEFAULT_AUDIO_OPTIONS, resolveAudioOptions } from "./options.ts";
export { AudioError, type AudioErrorCode, isAudioError, toApiError } from "./errors.ts";
export type { ProbeResult } from "./probe.ts";

/** The upload: a file the caller owns (left in place), or bytes (written to the private temp dir). */
export type AudioInput = { path: string } | { bytes: Uint8Array };

export type Stage = "probe" | "analyse" | "limit" | "encode" | "verify";

export interface ProcessContext {
  signal?: AbortSignal;
  /** Called as each step starts, with the overall fraction done (0..1), e.g. for GET /audio/status. */
  onProgress?: (stage: Stage, fraction: number) => void;
  /** Look of the SVG waveform. */
  svg?: Partial<WaveformSvgOptions>;
}

export interface ProcessedAudio {
  /** The delivered file: MP3, CBR, 44.1 kHz, Xing/LAME header, no ID3 tags. */
  mp3: Uint8Array;
  /** WAVEFORM_PEAKS values in 0..1 from the decoded MP3 (absolute, not rescaled). */
  peaks: number[];
  /** SVG waveform image of the peaks. */
  svg: string;
  /** "linear": one gain, the audio otherwise untouched; "limiter": gain plus a true-peak limiter. */
  gainMode: "linear" | "limiter";
  /** The gain applied (before the limiter, in limiter mode). */
  gainDb: number;
  /** MP3 encodes it took (1 unless the first result missed the target). */
  encodes: number;
  input: {
    format: AudioFormat;
    codec: string;
    sampleRate: number;
    channels: number;
    bitsPerSample: number | null;
    /** Decoded length, at the output rate: what the MP3 must decode to. */
    durationSeconds: number;
    sampleCount: number;
    lufs: number;
    truePeakDb: number;
  };
  /** Measured on the delivered MP3 (decoded by ffmpeg, which honours the gapless header). */
  measured: {
    lufs: number;
    truePeakDb: number;
    durationSeconds: number;
    sampleCount: number;
    sampleRate: number;
    channels: 1 | 2;
    /** From the frame headers: the constant bitrate, or null if the frames disagree (never with our encoder). */
    bitrateKbps: number | null;
    bytes: number;
    /** The Xing/Info frame with LAME's encoder delay and padding is present. */
    gapless: boolean;
  };
  /** Milliseconds per step (limit is 0 in linear mode) and in all. */
  timings: Record<Stage | "total", number>;
}

const PROGRESS: Record<Stage, number> = { probe: 0.02, analyse: 0.1, limit: 0.25, encode: 0.4, verify: 0.85 };
const MAX_LIMITER_TRIALS = 4;

/**
 * Turns one upload into what the post needs. Throws AudioError: input problems (`unsupported_format`,
 * `corrupt_audio`, `too_long`, `silent`, ...; `retryable` false) or machine problems (`timeout`, `aborted`,
 * `ffmpeg_unavailable`, `processing_failed`; `retryable` true). Leaves no temp files behind in any case.
 */
export async function processAudio(
  runner: FfmpegRunner,
  input: AudioInput,
  options: Partial<AudioOptions> = {},
  ctx: ProcessContext = {},
): Promise<ProcessedAudio> {
  const opts = resolveAudioOptions(options);
  const started = performance.now();
  const timings: ProcessedAudio["timings"] = { probe: 0, analyse: 0, limit: 0, encode: 0, verify: 0, total: 0 };
  const { signal } = ctx;
  let progress = 0; // never goes back, even when a second encode repeats steps
  const step = async <T>(stage: Stage, fn: () => Promise<T>): Promise<T> => {
    progress = Math.max(progress, PROGRESS[stage]);
    ctx.onProgress?.(stage, progress);
    const t = performance.now();
    try {
      return await fn();
    } finally {
      timings[stage] += performance.now() - t;
    }
  };

  return runner.withTempDir(async (dir) => {
    const inputPath = "path" in input ? input.path : join(dir, "upload");
    if ("bytes" in input) await Bun.write(inputPath, input.bytes);
    const probe = await step("probe", () => inspectAudio(runner, inputPath, opts, signal));
    const format = probe.format;
    const channels = outputChannels(probe.channels);
    const pcm = join(dir, "input.f32");
    const analysed = await step("analyse", () => analyse(runner, probe, inputPath, pcm, opts, signal));

    const contract = { targetLufs: opts.targetLufs, truePeakDb: opts.truePeakDb, toleranceLu: opts.loudnessToleranceLu };
    // Aim the pre-encode signal where the encoder will take it: a little louder (LAME loses loudness) and a
    // little under the true-peak ceiling (it adds peaks). The delivered file is measured either way.
    let aim: Aim = { lufs: opts.targetLufs + opts.encodeLossLu, ceilingDb: opts.truePeakDb - opts.encodeHeadroomDb };
    const limiter: LimiterSearch = { limitDb: aim.ceilingDb - LIMIT_MARGIN_DB, points: [] };
    for (let encodes = 1; ; encodes++) {
      // 1. Gain, and the limiter only when a plain gain would put the true peak over the ceiling.
      const decision = decideGain(analysed.loudness, aim);
      let encodeFrom = pcm;
      let encodeGain: number | null = decision.gainDb;
      let gainDb = decision.gainDb;
      // What goes into the encoder: exact for a plain gain, measured for a limiter run.
      let preEncode: Loudness = { lufs: analysed.loudness.lufs + gainDb, truePeakDb: analysed.loudness.truePeakDb + gainDb };
      if (decision.mode === "limiter") {
        const best = await step("limit", () => searchLimiter(runner, dir, pcm, channels, analysed.loudness, aim, limiter, opts, signal));
        encodeFrom = best.path;
        encodeGain = null; // already in the limited PCM
        gainDb = best.gainDb;
        preEncode = best.out;
      }
      // 2. Encode, 3. measure what we deliver (and collect the waveform from the same decode).
      const mp3Path = join(dir, `out-${encodes}.mp3`);
      await step("encode", () => encode(runner, encodeFrom, mp3Path, channels, encodeGain, opts, signal));
      const peaks = new PeakAccumulator(analysed.frames, channels, opts.waveformPeaks);
      const delivered = await step("verify", () => verify(runner, mp3Path, channels, peaks, opts, signal));

      const verdict = correctAim(aim, preEncode, delivered, contract);
      if (!verdict.ok && encodes < opts.maxEncodes) {
        aim = verdict.aim;
        continue;
      }
      // Loudness slightly off after every attempt is delivered as measured; a true peak over the ceiling never is.
      if (delivered.truePeakDb > opts.truePeakDb) {
        throw new AudioError(
          "processing_failed",
          "The loop could not be normalised within the true-peak ceiling",
          `after ${encodes} encodes: ${delivered.truePeakDb} dBTP, ${delivered.lufs} LUFS`,
        );
      }
      const mp3 = new Uint8Array(await Bun.file(mp3Path).arrayBuffer());
      const info = inspectMp3(mp3);
      const peakValues = peaks.result();
      timings.total = performance.now() - started;
      return {
        mp3,
        peaks: peakValues,
        svg: renderWaveformSvg(peakValues, ctx.svg),
        gainMode: decision.mode,
        gainDb: round(gainDb, 2),
        encodes,
        input: {
          format,
          codec: probe.codec,
          sampleRate: probe.sampleRate,
          channels: probe.channels,
          bitsPerSample: probe.bitsPerSample,
          durationSeconds: analysed.frames / OUTPUT_SAMPLE_RATE,
          sampleCount: analysed.frames,
          lufs: analysed.loudness.lufs,
          truePeakDb: analysed.loudness.truePeakDb,
        },
        measured: {
          lufs: delivered.lufs,
          truePeakDb: delivered.truePeakDb,
          durationSeconds: peaks.frames / OUTPUT_SAMPLE_RATE,
          sampleCount: peaks.frames,
          sampleRate: OUTPUT_SAMPLE_RATE,
          channels,
          bitrateKbps: info?.cbrKbps ?? null,
          bytes: mp3.length,
          gapless: info?.xing?.encoderDelay != null,
        },
        timings,
      };
    }
  });
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Everything that can refuse an upload without decoding it, in ~20 ms: the type by content (magic bytes), the
 * WAV/AIFF header against the file size, then ffprobe's allow-list and bounds. The upload route can call this to
 * answer at once; processAudio() starts with it too.
 */
export async function inspectAudio(
  runner: FfmpegRunner,
  path: string,
  options: Partial<AudioOptions> = {},
  signal?: AbortSignal,
): Promise<ProbeResult> {
  const opts = resolveAudioOptions(options);
  const format = await sniffFile(path);
  return probeAudio(runner, path, format, opts, signal);
}

/**
 * Type by content, plus the header sanity ffprobe does not do: a WAV/AIFF that holds less audio than it declares
 * (ffprobe quietly reads what is there), and any file with more than TRAILING_MARGIN bytes after the end its
 * header declares. Those bytes are refused rather than cut: the stored original stays the file the producer sent,
 * our tools never make such files, and a clear refusal tells a producer whose export went wrong.
 */
async function sniffFile(path: string): Promise<AudioFormat> {
  const file = Bun.file(path);
  const size = file.size;
  if (size === 0) throw new AudioError("empty_file", "The uploaded file is empty");
  const read = async (at: number, length: number) => new Uint8Array(await file.slice(at, at + length).arrayBuffer());
  const head = await read(0, SNIFF_BYTES);
  const format = sniffFormat(head);
  if (!format) throw new AudioError("unsupported_format", "The file is not audio we accept; send WAV, AIFF, FLAC, MP3 or Ogg Vorbis/Opus");
  const label = format.toUpperCase();
  const extent = await declaredExtent(read, size, format, head);
  if ("truncated" in extent) {
    const { declared, available } = extent.truncated;
    throw new AudioError("corrupt_audio", `The ${label} file is truncated or its header is wrong: it declares ${declared} bytes of audio but holds ${available}`);
  }
  if ("problem" in extent) throw new AudioError("corrupt_audio", `The ${label} file ${extent.problem}`);
  if (extent.end !== null && size - extent.end > TRAILING_MARGIN) {
    throw new AudioError("corrupt_audio", `The ${label} file has ${size - extent.end} bytes after the end of its audio; export it again`);
  }
  return format;
}

interface Analysed {
  loudness: Loudness;
  /** Frames of 44.1 kHz PCM written. */
  frames: number;
}

async function analyse(runner: FfmpegRunner, probe: ProbeResult, input: string, pcm: string, opts: AudioOptions, signal?: AbortSignal): Promise<Analysed> {
  const r = await runner.run("ffmpeg", analyseArgs(probe, { input, pcm }, opts), { signal });
  const loudness = r.exitCode === 0 ? parseEbur128Summary(r.stderr) : null;
  const label = probe.format.toUpperCase();
  if (!loudness) throw new AudioError("corrupt_audio", `The ${label} audio could not be decoded`, `analyse exit ${r.exitCode}: ${r.stderr.slice(-2000)}`);
  const frames = Math.floor(Bun.file(pcm).size / (4 * outputChannels(probe.channels)));
  const seconds = frames / OUTPUT_SAMPLE_RATE;
  if (frames === 0) throw new AudioError("corrupt_audio", `No audio could be decoded from the ${label} file`);
  // The header may have understated the length (the decode stops just past the limit, so this stays cheap).
  if (seconds > opts.maxSeconds) throw new AudioError("too_long", `The loop lasts more than ${opts.maxSeconds} s, the limit`);
  if (seconds < opts.minSeconds) throw new AudioError("too_short", `The loop lasts ${seconds.toFixed(2)} s; it must last at least ${opts.minSeconds} s`);
  // A lossless or Ogg file that decodes much shorter than its header says was cut off in transit. (MP3 without a
  // Xing header only has an estimated duration, so it is not held to this.)
  if (probe.durationSeconds !== null && probe.format !== "mp3" && seconds < probe.durationSeconds * 0.98 - 0.05) {
    throw new AudioError("corrupt_audio", `The ${label} file ends after ${seconds.toFixed(2)} s but its header says ${probe.durationSeconds.toFixed(2)} s: it is truncated`);
  }
  // Silence policy: refused, not kept. Gain cannot make silence into a loop, only turn its noise floor into hiss,
  // and a silent post is almost always a capture mistake (wrong track armed, muted bus) that the producer wants
  // to hear about at once. ffmpeg reports -70 LUFS when every 400 ms block is under the absolute gate.
  if (loudness.lufs <= opts.silenceLufs) {
    throw new AudioError("silent", `The loop is silent (quieter than ${opts.silenceLufs} LUFS); check what was recorded`);
  }
  return { loudness, frames };
}

/**
 * Limiter runs so far, all at one limit. Their measurements are kept across encodes (a new aim then usually needs
 * one more run); their PCM files only while they may still be encoded, so a long loop does not fill the disk.
 */
interface LimiterSearch {
  limitDb: number;
  points: (LimiterPoint & { path: string | null })[];
}

const MAX_LIMITER_ROUNDS = 4;

/** Limiter runs on the PCM until one lands on the aim; returns the one to encode. */
async function searchLimiter(
  runner: FfmpegRunner,
  dir: string,
  pcm: string,
  channels: 1 | 2,
  input: Loudness,
  aim: Aim,
  search: LimiterSearch,
  opts: AudioOptions,
  signal?: AbortSignal,
): Promise<LimiterPoint & { path: string }> {
  const dropFiles = async (keep?: string) => {
    for (const p of search.points) {
      if (p.path && p.path !== keep) await Bun.file(p.path).delete().catch(() => undefined);
      if (p.path !== keep) p.path = null;
    }
  };
  // A new threshold: the runs so far still tell the shape of the curve (see shiftLimiterPoint), not the audio.
  const restartAt = async (limitDb: number) => {
    await dropFiles();
    search.points = search.points.map((p) => shiftLimiterPoint(p, limitDb - search.limitDb));
    search.limitDb = limitDb;
  };
  const chosen = async (p: LimiterPoint & { path: string | null }) => {
    await dropFiles(p.path!);
    return p as LimiterPoint & { path: string };
  };
  const withFile = () => search.points.filter((p) => p.path !== null);
  // A lower ceiling than the search was made for (the encoder overshot): start again under it.
  if (search.limitDb > aim.ceilingDb - LIMIT_MARGIN_DB) await restartAt(aim.ceilingDb - LIMIT_MARGIN_DB);
  for (let round = 0; round < MAX_LIMITER_ROUNDS; round++) {
    const good = withFile().filter((p) => isGoodLimiterPoint(aim, p));
    if (good.length) return chosen(pickLimiterPoint(aim, good)!);
    const gains = nextLimiterGains(input, aim, search.limitDb, search.points);
    const runs = await Promise.all(
      gains.map(async (gainDb) => {
        const path = join(dir, `limited-${crypto.randomUUID()}.f32`);
        const r = await runner.run("ffmpeg", limitArgs({ pcm, out: path }, channels, { gainDb, limitDb: search.limitDb }, opts), { signal });
        const out = r.exitCode === 0 ? parseEbur128Summary(r.stderr) : null;
        if (!out) throw new AudioError("processing_failed", "Audio processing failed", `limit exit ${r.exitCode}: ${r.stderr.slice(-2000)}`);
        return { gainDb, out, path };
      }),
    );
    search.points.push(...runs);
    const over = Math.max(...runs.map((p) => p.out.truePeakDb - aim.ceilingDb));
    // The limiter let peaks through above the ceiling: lower its threshold by that much and search again.
    if (over > 0 && !runs.some((p) => isGoodLimiterPoint(aim, p))) await restartAt(search.limitDb - over - 0.1);
  }
  const best = pickLimiterPoint(aim, withFile());
  if (!best) throw new AudioError("processing_failed", "The loop could not be limited under the true-peak ceiling");
  return chosen(best);
}

async function encode(
  runner: FfmpegRunner,
  pcm: string,
  mp3: string,
  channels: 1 | 2,
  gainDb: number | null,
  opts: AudioOptions,
  signal?: AbortSignal,
): Promise<void> {
  const r = await runner.run("ffmpeg", encodeArgs({ pcm, mp3 }, channels, gainDb, opts), { signal });
  if (r.exitCode !== 0) throw new AudioError("processing_failed", "Audio processing failed", `encode exit ${r.exitCode}: ${r.stderr.slice(-2000)}`);
}

async function verify(
  runner: FfmpegRunner,
  mp3: string,
  channels: 1 | 2,
  peaks: PeakAccumulator,
  opts: AudioOptions,
  signal?: AbortSignal,
): Promise<Loudness> {
  const r = await runner.run("ffmpeg", verifyArgs(mp3, channels, opts), { signal, onStdout: (c) => peaks.push(c) });
  const measured = r.exitCode === 0 ? parseEbur128Summary(r.stderr) : null;
  if (!measured) throw new AudioError("processing_failed", "Audio processing failed", `verify exit ${r.exitCode}: ${r.stderr.slice(-2000)}`);
  return measured;
}

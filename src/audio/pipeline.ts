// The whole audio pipeline for one upload: bytes in, a normalised gapless MP3 and Ogg Vorbis, waveform peaks, an
// SVG and a PNG, and the measured figures out. No database, no storage: the process-loop job calls processAudio() and stores the result.
// Every step that touches ffmpeg goes through the runner (ffmpeg.ts), with the arguments built in plan.ts.
//
// Steps (plan.ts explains the ffmpeg side): sniff → probe → analyse → [limit] → encode → verify. The loudness
// target is checked on each delivered file, not predicted: MP3 encoding lowers loudness a little and adds peaks, so
// when the measured file misses (loudness off by more than the tolerance, or true peak over the ceiling) it is
// encoded again with a corrected aim, at most `maxEncodes` times in all.
//
// Two renditions from the same normalised PCM: the MP3 (browsers, `mp3_url`) and Ogg Vorbis (the plugin's player
// decodes no MP3; `audio_url`). Their encodes run side by side (two runner slots), then their verifies. Vorbis keeps
// loudness where LAME loses ~0.5 LU, so the Ogg gets the same signal with a trim (options.ts, oggEncodeLossLu);
// each file is judged on its own, and only the one that missed is encoded again. The true-peak ceiling of the
// shared signal is the lower of what the two need.
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
import { inspectOggVorbis } from "./ogg.ts";
import { type AudioOptions, resolveAudioOptions } from "./options.ts";
import { PeakAccumulator } from "./peaks.ts";
import { analyseArgs, encodeArgs, limitArgs, oggEncodeArgs, oggVerifyArgs, OUTPUT_SAMPLE_RATE, outputChannels, verifyArgs } from "./plan.ts";
import { renderWaveformPng, type WaveformPngOptions } from "./png.ts";
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
  /** Size and colour of the PNG waveform. */
  png?: Partial<WaveformPngOptions>;
}

export interface ProcessedAudio {
  /** The delivered file: MP3, CBR, 44.1 kHz, Xing/LAME header, no ID3 tags. */
  mp3: Uint8Array;
  /** WAVEFORM_PEAKS values in 0..1 from the decoded MP3 (absolute, not rescaled). */
  peaks: number[];
  /** SVG waveform image of the peaks. */
  svg: string;
  /** The rendition the plugin plays: Ogg Vorbis, 44.1 kHz, ~MP3 bitrate, exact length, no tags. */
  ogg: Uint8Array;
  /** PNG waveform image of the peaks (the plugin decodes no SVG). */
  png: Uint8Array;
  /** "linear": one gain, the audio otherwise untouched; "limiter": gain plus a true-peak limiter. */
  gainMode: "linear" | "limiter";
  /** The gain applied (before the limiter, in limiter mode). */
  gainDb: number;
  /** Encode rounds it took (1 unless a first result missed the target). */
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
  /** Measured on the delivered Ogg, decoded up to its last granule position (where a Vorbis player stops). */
  measuredOgg: {
    lufs: number;
    truePeakDb: number;
    /** The last page's granule position: samples per channel played. */
    sampleCount: number;
    durationSeconds: number;
    channels: number;
    sampleRate: number;
    /** Nominal bitrate from the Vorbis header, and the file's average (bytes × 8 / duration). */
    nominalKbps: number | null;
    averageKbps: number;
    bytes: number;
    /** Plays exactly the input's samples. */
    gapless: boolean;
  };
  /** Milliseconds per step (limit is 0 in linear mode) and in all. */
  timings: Record<Stage | "total", number>;
}

const PROGRESS: Record<Stage, number> = { probe: 0.02, analyse: 0.1, limit: 0.25, encode: 0.4, verify: 0.85 };

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
    // The Ogg's level relative to the shared pre-encode signal (the MP3's): Vorbis loses less loudness than LAME.
    let oggTrimDb = opts.oggEncodeLossLu - opts.encodeLossLu;
    let mp3: Delivered | null = null;
    let ogg: Delivered | null = null;
    let peaks: PeakAccumulator | null = null;
    let gainMode: "linear" | "limiter" = "linear";
    let appliedGainDb = 0;
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
      // 2. Encode what is still missing (side by side), 3. measure what we deliver (the MP3's decode also gives
      // the waveform). Only a rendition that has not passed yet is encoded again.
      const mp3Path = join(dir, `out-${encodes}.mp3`);
      const oggPath = join(dir, `out-${encodes}.ogg`);
      const trim = oggTrimDb;
      const oggGain = (encodeGain ?? 0) + trim;
      await step("encode", () =>
        Promise.all([
          mp3 ? null : encode(runner, "encode_mp3", encodeArgs({ pcm: encodeFrom, mp3: mp3Path }, channels, encodeGain, opts), signal),
          ogg ? null : encode(runner, "encode_ogg", oggEncodeArgs({ pcm: encodeFrom, ogg: oggPath }, channels, oggGain === 0 ? null : oggGain, opts), signal),
        ]),
      );
      const acc: PeakAccumulator | null = mp3 ? null : new PeakAccumulator(analysed.frames, channels, opts.waveformPeaks);
      const [mp3Now, oggNow]: (Loudness | null)[] = await step(
        "verify",
        (): Promise<(Loudness | null)[]> =>
          Promise.all([mp3 ? null : verify(runner, mp3Path, channels, acc!, opts, signal), ogg ? null : verifyOgg(runner, oggPath, channels, opts, signal)]),
      );

      // Each file against the contract; a miss gives that file's next aim (the Ogg's in its own, trimmed, terms).
      const last = encodes >= opts.maxEncodes;
      let next: Aim = { ...aim };
      let oggNext: Aim | null = null;
      if (mp3Now) {
        const verdict = correctAim(aim, preEncode, mp3Now, contract);
        if (verdict.ok || last) {
          mp3 = { ...mp3Now, path: mp3Path };
          peaks = acc;
          gainMode = decision.mode;
          appliedGainDb = gainDb;
        } else next = verdict.aim;
      }
      if (oggNow) {
        const shift = (l: Loudness | Aim) =>
          "ceilingDb" in l ? { lufs: l.lufs + trim, ceilingDb: l.ceilingDb + trim } : { lufs: l.lufs + trim, truePeakDb: l.truePeakDb + trim };
        const verdict = correctAim(shift(aim) as Aim, shift(preEncode) as Loudness, oggNow, contract);
        if (verdict.ok || last) ogg = { ...oggNow, path: oggPath };
        else oggNext = verdict.aim;
      }
      // A true peak over the ceiling after every attempt is never delivered (loudness slightly off is, as measured).
      for (const [name, d] of [
        ["MP3", mp3],
        ["Ogg", ogg],
      ] as const) {
        if (d && d.truePeakDb > opts.truePeakDb) {
          throw new AudioError(
            "processing_failed",
            "The loop could not be normalised within the true-peak ceiling",
            `${name} after ${encodes} encodes: ${d.truePeakDb} dBTP, ${d.lufs} LUFS`,
          );
        }
      }
      if (mp3 && ogg) return finish(mp3, ogg, peaks!, gainMode, appliedGainDb, encodes);
      // The next shared signal: the MP3's aim (kept if it passed), under the lower of both ceilings; the Ogg's
      // trim follows its own loudness aim.
      if (oggNext) {
        oggTrimDb = oggNext.lufs - next.lufs;
        next.ceilingDb = Math.min(next.ceilingDb, oggNext.ceilingDb - oggTrimDb);
      }
      aim = next;
    }

    async function finish(
      mp3: Delivered,
      ogg: Delivered,
      peaks: PeakAccumulator,
      gainMode: "linear" | "limiter",
      gainDb: number,
      encodes: number,
    ): Promise<ProcessedAudio> {
      const mp3Bytes = new Uint8Array(await Bun.file(mp3.path).arrayBuffer());
      const oggBytes = new Uint8Array(await Bun.file(ogg.path).arrayBuffer());
      const info = inspectMp3(mp3Bytes);
      const oggInfo = inspectOggVorbis(oggBytes)!;
      const peakValues = peaks.result();
      const svg = renderWaveformSvg(peakValues, ctx.svg);
      const png = renderWaveformPng(peakValues, ctx.png);
      timings.total = performance.now() - started;
      return {
        mp3: mp3Bytes,
        peaks: peakValues,
        svg,
        ogg: oggBytes,
        png,
        gainMode,
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
          lufs: mp3.lufs,
          truePeakDb: mp3.truePeakDb,
          durationSeconds: peaks.frames / OUTPUT_SAMPLE_RATE,
          sampleCount: peaks.frames,
          sampleRate: OUTPUT_SAMPLE_RATE,
          channels,
          bitrateKbps: info?.cbrKbps ?? null,
          bytes: mp3Bytes.length,
          gapless: info?.xing?.encoderDelay != null,
        },
        measuredOgg: {
          lufs: ogg.lufs,
          truePeakDb: ogg.truePeakDb,
          sampleCount: oggInfo.samples,
          durationSeconds: oggInfo.samples / oggInfo.sampleRate,
          channels: oggInfo.channels,
          sampleRate: oggInfo.sampleRate,
          nominalKbps: oggInfo.nominalBitrate === null ? null : oggInfo.nominalBitrate / 1000,
          averageKbps: round((oggBytes.length * 8) / (oggInfo.samples / oggInfo.sampleRate) / 1000, 1),
          bytes: oggBytes.length,
          gapless: oggInfo.samples === analysed.frames,
        },
        timings,
      };
    }
  });
}

/** A delivered file that passed (or is the last attempt), with what it measured. */
type Delivered = Loudness & { path: string };

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Everything that can refuse an upload without decoding it, in ~20 ms: the type by content (magic bytes), the
 * WAV/AIFF header against the file size, then ffprobe's allow-list and bounds. The upload route can call this to
 * answer at once; processAudio() starts with it too.
 */
export async function inspectAudio(runner: FfmpegRunner, path: string, options: Partial<AudioOptions> = {}, signal?: AbortSignal): Promise<ProbeResult> {
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
    throw new AudioError(
      "corrupt_audio",
      `The ${label} file is truncated or its header is wrong: it declares ${declared} bytes of audio but holds ${available}`,
    );
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
  const r = await runner.run("ffmpeg", analyseArgs(probe, { input, pcm }, opts), { signal, stage: "analyse" });
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
    throw new AudioError(
      "corrupt_audio",
      `The ${label} file ends after ${seconds.toFixed(2)} s but its header says ${probe.durationSeconds.toFixed(2)} s: it is truncated`,
    );
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
      if (p.path && p.path !== keep)
        await Bun.file(p.path)
          .delete()
          .catch(() => undefined);
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
        const r = await runner.run("ffmpeg", limitArgs({ pcm, out: path }, channels, { gainDb, limitDb: search.limitDb }, opts), { signal, stage: "limit" });
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

async function encode(runner: FfmpegRunner, stage: "encode_mp3" | "encode_ogg", args: string[], signal?: AbortSignal): Promise<void> {
  const r = await runner.run("ffmpeg", args, { signal, stage });
  if (r.exitCode !== 0) throw new AudioError("processing_failed", "Audio processing failed", `encode exit ${r.exitCode}: ${r.stderr.slice(-2000)}`);
}

async function verify(runner: FfmpegRunner, mp3: string, channels: 1 | 2, peaks: PeakAccumulator, opts: AudioOptions, signal?: AbortSignal): Promise<Loudness> {
  const r = await runner.run("ffmpeg", verifyArgs(mp3, channels, opts), { signal, stage: "verify_mp3", onStdout: (c) => peaks.push(c) });
  const measured = r.exitCode === 0 ? parseEbur128Summary(r.stderr) : null;
  if (!measured) throw new AudioError("processing_failed", "Audio processing failed", `verify exit ${r.exitCode}: ${r.stderr.slice(-2000)}`);
  return measured;
}

/** Measures the delivered Ogg up to its last granule position (what the plugin's Vorbis reader plays). */
async function verifyOgg(runner: FfmpegRunner, ogg: string, channels: 1 | 2, opts: AudioOptions, signal?: AbortSignal): Promise<Loudness> {
  const info = inspectOggVorbis(new Uint8Array(await Bun.file(ogg).arrayBuffer()));
  if (!info) throw new AudioError("processing_failed", "Audio processing failed", "the encoder wrote no valid Ogg Vorbis stream");
  const r = await runner.run("ffmpeg", oggVerifyArgs(ogg, info.samples, channels, opts), { signal, stage: "verify_ogg" });
  const measured = r.exitCode === 0 ? parseEbur128Summary(r.stderr) : null;
  if (!measured) throw new AudioError("processing_failed", "Audio processing failed", `verify ogg exit ${r.exitCode}: ${r.stderr.slice(-2000)}`);
  return measured;
}

// ffprobe confirms what sniff.ts decided from the bytes, reading headers only (no decoding): the codec must be on
// the allow-list for that container, and duration, sample rate and channels within bounds. An hour-long 8 kbps
// MP3 is refused here, from its header, before anything decodes it. parseProbe() is pure and tested on JSON.
import { AudioError } from "./errors.ts";
import type { FfmpegRunner } from "./ffmpeg.ts";
import type { AudioOptions } from "./options.ts";
import { probeArgs } from "./plan.ts";
import type { ProbeResult } from "./probe-result.ts";
import type { AudioFormat } from "./sniff.ts";

/** Codecs accepted inside each container. PCM only in WAV/AIFF (no ADPCM, no MP3-in-WAV, no G.711). */
export const ALLOWED_CODECS: Readonly<Record<AudioFormat, readonly string[]>> = Object.freeze({
  wav: ["pcm_u8", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_f64le"],
  // AIFC adds little-endian 16-bit ("sowt") and floats ("fl32", "fl64").
  aiff: ["pcm_s8", "pcm_s16be", "pcm_s24be", "pcm_s32be", "pcm_f32be", "pcm_f64be", "pcm_s16le"],
  flac: ["flac"],
  mp3: ["mp3"],
  ogg: ["vorbis", "opus"],
});

const FORMAT_LABEL: Record<AudioFormat, string> = { wav: "WAV", aiff: "AIFF", flac: "FLAC", mp3: "MP3", ogg: "Ogg" };

export type { ProbeResult } from "./probe-result.ts";

export type ProbeLimits = Pick<AudioOptions, "minSeconds" | "maxSeconds" | "minSampleRate" | "maxSampleRate" | "maxChannels">;

type FfprobeStream = {
  codec_type?: string;
  codec_name?: string;
  sample_rate?: string;
  channels?: number;
  duration?: string;
  bits_per_sample?: number;
  bits_per_raw_sample?: string;
  bit_rate?: string;
  disposition?: { attached_pic?: number };
};
type FfprobeOutput = { streams?: FfprobeStream[]; format?: { format_name?: string; duration?: string; bit_rate?: string } };

const positive = (s: string | number | undefined): number | null => {
  const n = typeof s === "number" ? s : s === undefined ? NaN : Number(s);
  return Number.isFinite(n) && n > 0 ? n : null;
};

const fmtSeconds = (s: number) => (s >= 120 ? `${(s / 60).toFixed(1)} minutes` : `${s.toFixed(1)} s`);

/** Checks ffprobe's JSON against the allow-list and the limits; throws a typed AudioError when it fails. */
export function parseProbe(output: unknown, format: AudioFormat, limits: ProbeLimits): ProbeResult {
  const label = FORMAT_LABEL[format];
  const json = (output ?? {}) as FfprobeOutput;
  // MP3 and Ogg may carry cover art as a picture stream: the first audio stream is the one we use.
  const stream = json.streams?.find((s) => s.codec_type === "audio");
  if (!stream) throw new AudioError("unsupported_format", `The ${label} file contains no audio`);
  const codec = stream.codec_name ?? "unknown";
  if (!ALLOWED_CODECS[format].includes(codec)) {
    throw new AudioError("unsupported_format", `${label} with ${codec} audio is not accepted; send WAV, AIFF, FLAC, MP3 or Ogg Vorbis/Opus`);
  }
  const sampleRate = positive(stream.sample_rate);
  if (sampleRate === null) throw new AudioError("corrupt_audio", `The ${label} file has no valid sample rate`);
  if (sampleRate < limits.minSampleRate || sampleRate > limits.maxSampleRate) {
    throw new AudioError("unsupported_sample_rate", `Sample rate ${sampleRate} Hz is not accepted (${limits.minSampleRate}–${limits.maxSampleRate} Hz)`);
  }
  const channels = positive(stream.channels);
  if (channels === null) throw new AudioError("corrupt_audio", `The ${label} file has no valid channel count`);
  if (channels > limits.maxChannels) {
    throw new AudioError("unsupported_channels", `${channels} channels are not accepted (at most ${limits.maxChannels})`);
  }
  const durationSeconds = positive(json.format?.duration) ?? positive(stream.duration);
  if (durationSeconds !== null) {
    if (durationSeconds > limits.maxSeconds) {
      throw new AudioError("too_long", `The loop lasts ${fmtSeconds(durationSeconds)}; the limit is ${fmtSeconds(limits.maxSeconds)}`);
    }
    if (durationSeconds < limits.minSeconds) {
      throw new AudioError("too_short", `The loop lasts ${durationSeconds.toFixed(2)} s; it must last at least ${limits.minSeconds} s`);
    }
  }
  const bits = positive(stream.bits_per_sample) ?? positive(stream.bits_per_raw_sample);
  return {
    format,
    codec,
    sampleRate,
    channels,
    durationSeconds,
    bitsPerSample: bits,
    bitRate: positive(stream.bit_rate) ?? positive(json.format?.bit_rate),
  };
}

/** Runs ffprobe on `path` with the sniffed demuxer forced. */
export async function probeAudio(runner: FfmpegRunner, path: string, format: AudioFormat, limits: ProbeLimits, signal?: AbortSignal): Promise<ProbeResult> {
  const r = await runner.run("ffprobe", probeArgs(path, format), { signal, stage: "probe" });
  let json: unknown;
  try {
    json = r.exitCode === 0 ? JSON.parse(new TextDecoder().decode(r.stdout)) : undefined;
  } catch {
    json = undefined;
  }
  if (json === undefined) {
    throw new AudioError(
      "corrupt_audio",
      `The file could not be read as ${FORMAT_LABEL[format]} audio`,
      `ffprobe exit ${r.exitCode}: ${r.stderr.slice(-2000)}`,
    );
  }
  return parseProbe(json, format, limits);
}

// Pure builders: probe result + options → the argument arrays of every ffmpeg/ffprobe step. No I/O here, so the
// exact commands are unit-tested without ffmpeg (plan.test.ts), and ffmpeg.ts only has to run them.
//
// The steps, chosen to keep the number of decodes minimal (speed target: ~1 s for a 16 s stereo loop):
//   probe     ffprobe reads the headers only: format/codec allow-list, duration, rate, channels
//   analyse   decode once → 44.1 kHz float PCM in the temp dir, measuring loudness and true peak on the way
//   limit     (only when a plain gain would push the true peak over the ceiling) gain + true-peak limiter on
//             the PCM, measured; repeated with a corrected gain until it lands on the target
//   encode    PCM (+ gain) → MP3 CBR with the Xing/LAME header (gapless)
//   verify    decode the MP3 once: loudness and true peak of the delivered file, and the PCM for the peaks
//   (encode and verify run for the Ogg Vorbis rendition too, from the same PCM, in parallel with the MP3's)
//
// Every input is opened with a forced demuxer (`-f`) and `-protocol_whitelist file,pipe`, every output has a
// forced muxer and a size bound (`-fs`), every input a duration bound (`-t`). ffmpeg.ts refuses arguments
// without the input guards, so a builder that forgets one fails loudly.
import type { AudioOptions } from "./options.ts";
import { PROTOCOL_WHITELIST } from "./guards.ts";
import type { ProbeResult } from "./probe-result.ts";
import type { AudioFormat } from "./sniff.ts";

/** The contract's output rate. */
export const OUTPUT_SAMPLE_RATE = 44100;
export { PROTOCOL_WHITELIST };
/** Decoded audio beyond LOOP_MAX_SECONDS by this much proves a file longer than allowed; no need to decode more. */
export const DECODE_SLACK_SECONDS = 1;

/** Limiter settings. It runs at 4× the rate so it catches the peaks between samples (true peak, not sample peak). */
export const LIMITER = { oversample: 4, attackMs: 5, releaseMs: 50 } as const;

const GLOBAL = ["-nostdin", "-hide_banner", "-nostats"];
/** Input guards; ffmpeg.ts checks they precede every `-i`. */
const inputGuards = (format: string) => ["-protocol_whitelist", PROTOCOL_WHITELIST, "-f", format];
const file = (path: string) => `file:${path}`;

/** Numbers in filter strings: fixed decimals, never exponent notation. */
export function num(x: number, digits = 4): string {
  if (!Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`);
  const s = x.toFixed(digits);
  const trimmed = s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
  return trimmed === "-0" ? "0" : trimmed;
}

/** Mono stays mono; stereo and anything wider (downmixed) becomes stereo. */
export function outputChannels(inputChannels: number): 1 | 2 {
  return inputChannels === 1 ? 1 : 2;
}

/** Bytes of 32-bit float PCM for `seconds` of audio, used as the `-fs` bound of PCM outputs. */
export function pcmBytes(seconds: number, channels: number): number {
  return Math.ceil(seconds * OUTPUT_SAMPLE_RATE) * channels * 4;
}

/** Upper bound of an MP3 of `seconds` at `kbps`, with room for the header frame and padding bits. */
export function mp3Bytes(seconds: number, kbps: number): number {
  return Math.ceil((seconds * kbps * 1000) / 8) + 64 * 1024;
}

/** The loudness meter every measuring step taps off the audio (side branch, the audio itself is untouched). */
function meter(opts: Pick<AudioOptions, "monoAsDualMono">, channels: number): string {
  const dual = opts.monoAsDualMono && channels === 1 ? ":dualmono=true" : "";
  // framelog=verbose keeps the 10-per-second frame lines out of the log; the summary prints at info level.
  return `ebur128=peak=true:framelog=verbose${dual}`;
}

/**
 * `[0:a:0]` → `chain` → `[out]`, with a copy measured on the side. This ffmpeg's ebur128 only takes 48 kHz; the
 * explicit resampler on the meter branch keeps that requirement from spreading to `[out]` (lavfi would otherwise
 * negotiate 48 kHz for the whole graph), and the aformat pins `[out]` to the output rate.
 */
function tapMeter(chain: string, opts: Pick<AudioOptions, "monoAsDualMono">, channels: number): string {
  const head = `${chain}${chain ? "," : ""}aformat=sample_rates=${OUTPUT_SAMPLE_RATE}`;
  return `[0:a:0]${head},asplit=2[meter][out];[meter]aresample=48000,${meter(opts, channels)}[metered];[metered]anullsink`;
}

export function probeArgs(inputPath: string, format: AudioFormat): string[] {
  return ["-v", "error", ...inputGuards(format), "-print_format", "json", "-show_format", "-show_streams", "-i", file(inputPath)];
}

/** Decode the upload once into 44.1 kHz float PCM (mono or stereo), measuring it on the way. */
export function analyseArgs(
  probe: Pick<ProbeResult, "format" | "channels">,
  paths: { input: string; pcm: string },
  opts: Pick<AudioOptions, "maxSeconds" | "monoAsDualMono">,
): string[] {
  const channels = outputChannels(probe.channels);
  const layout = channels === 1 ? "mono" : "stereo";
  const seconds = opts.maxSeconds + DECODE_SLACK_SECONDS;
  return [
    ...GLOBAL,
    "-loglevel",
    "info",
    ...inputGuards(probe.format),
    "-t",
    num(seconds),
    "-i",
    file(paths.input),
    // aresample does rate and sample format; the layout asked by aformat makes it downmix too (libswresample's default
    // matrix for >2 channels). Not aresample's own `ocl`: ffmpeg 5.1 ignores it (its layout option became `ochl`, which
    // 4.x lacks), and the PATH's ffmpeg may be either (README "Audio tools").
    "-filter_complex",
    tapMeter(`aresample=osr=${OUTPUT_SAMPLE_RATE}:osf=flt,aformat=channel_layouts=${layout}`, opts, channels),
    "-map",
    "[out]",
    "-c:a",
    "pcm_f32le",
    "-fs",
    String(pcmBytes(seconds, channels)),
    "-f",
    "f32le",
    file(paths.pcm),
  ];
}

function pcmInput(path: string, channels: 1 | 2, seconds: number): string[] {
  return [...inputGuards("f32le"), "-ar", String(OUTPUT_SAMPLE_RATE), "-ac", String(channels), "-t", num(seconds), "-i", file(path)];
}

/** Linear gain in dB, computed in double precision (no clipping: the samples are float). */
export function gainFilter(gainDb: number): string {
  return `volume=${num(gainDb)}dB:precision=double`;
}

/**
 * Gain, then a lookahead limiter at 4× the sample rate. This ffmpeg's alimiter delays its output by the attack
 * time and drops that much at the end; padding the end and trimming the start by exactly that many samples keeps
 * the loop sample-aligned and its length unchanged (checked in the tests with a click train).
 */
export function limiterFilter(gainDb: number, limitDb: number): string {
  const rate = OUTPUT_SAMPLE_RATE * LIMITER.oversample;
  const delay = Math.round((rate * LIMITER.attackMs) / 1000);
  const limit = Math.min(1, Math.max(0.0625, 10 ** (limitDb / 20))); // alimiter's accepted range
  return [
    gainFilter(gainDb),
    `aresample=${rate}`,
    `apad=pad_len=${delay}`,
    `alimiter=limit=${num(limit, 6)}:attack=${LIMITER.attackMs}:release=${LIMITER.releaseMs}:level=false`,
    `atrim=start_sample=${delay}`,
    `aresample=${OUTPUT_SAMPLE_RATE}`,
  ].join(",");
}

/** Gain + limiter on the analysed PCM, measured, written as PCM again (the encoder then takes it unchanged). */
export function limitArgs(
  paths: { pcm: string; out: string },
  channels: 1 | 2,
  stage: { gainDb: number; limitDb: number },
  opts: Pick<AudioOptions, "maxSeconds" | "monoAsDualMono">,
): string[] {
  const seconds = opts.maxSeconds + DECODE_SLACK_SECONDS;
  return [
    ...GLOBAL,
    "-loglevel",
    "info",
    ...pcmInput(paths.pcm, channels, seconds),
    "-filter_complex",
    tapMeter(limiterFilter(stage.gainDb, stage.limitDb), opts, channels),
    "-map",
    "[out]",
    "-c:a",
    "pcm_f32le",
    "-fs",
    String(pcmBytes(seconds, channels)),
    "-f",
    "f32le",
    file(paths.out),
  ];
}

/**
 * PCM → MP3, CBR, 44.1 kHz, the input's channel count. The mp3 muxer writes the Xing ("Info" for CBR) frame with
 * LAME's encoder delay and padding because the output is a seekable file; that header is what makes the loop
 * decode to its exact length. No ID3 tags: nothing of the upload's metadata is carried over.
 */
export function encodeArgs(
  paths: { pcm: string; mp3: string },
  channels: 1 | 2,
  gainDb: number | null,
  opts: Pick<AudioOptions, "maxSeconds" | "mp3BitrateKbps" | "mp3Quality">,
): string[] {
  const seconds = opts.maxSeconds + DECODE_SLACK_SECONDS;
  return pcmEncode(paths.pcm, channels, gainDb, seconds, [
    "-c:a",
    "libmp3lame",
    "-b:a",
    `${opts.mp3BitrateKbps}k`,
    "-compression_level",
    String(opts.mp3Quality),
    "-id3v2_version",
    "0",
    "-write_id3v1",
    "0",
    "-write_xing",
    "1",
    "-fs",
    String(mp3Bytes(seconds, opts.mp3BitrateKbps)),
    "-f",
    "mp3",
    file(paths.mp3),
  ]);
}

/** PCM (+ gain) → an encoder: `codec` holds the codec, its options, the size bound and the output. */
function pcmEncode(pcm: string, channels: 1 | 2, gainDb: number | null, seconds: number, codec: string[]): string[] {
  return [
    ...GLOBAL,
    "-loglevel",
    "error",
    ...pcmInput(pcm, channels, seconds),
    ...(gainDb === null ? [] : ["-af", gainFilter(gainDb)]),
    "-ar",
    String(OUTPUT_SAMPLE_RATE),
    "-ac",
    String(channels),
    "-map_metadata",
    "-1",
    ...codec,
  ];
}

/**
 * The same PCM (+ gain) → Ogg Vorbis, the rendition the plugin plays (its player reads WAV, AIFF, FLAC and Ogg
 * Vorbis only, never MP3 or Opus). libvorbis in average-bitrate mode at the MP3's bitrate; Vorbis has no encoder
 * delay to signal and the last page's granule position ends the stream at the exact input length (gapless).
 * No tags carried over.
 */
export function oggEncodeArgs(
  paths: { pcm: string; ogg: string },
  channels: 1 | 2,
  gainDb: number | null,
  opts: Pick<AudioOptions, "maxSeconds" | "mp3BitrateKbps">,
): string[] {
  const seconds = opts.maxSeconds + DECODE_SLACK_SECONDS;
  return pcmEncode(paths.pcm, channels, gainDb, seconds, [
    "-c:a",
    "libvorbis",
    "-b:a",
    `${opts.mp3BitrateKbps}k`,
    // Average bitrate may run above the nominal one on dense material: bounded at twice it.
    "-fs",
    String(mp3Bytes(seconds, 2 * opts.mp3BitrateKbps)),
    "-f",
    "ogg",
    file(paths.ogg),
  ]);
}

/**
 * Decode the delivered Ogg and measure it, as the plugin hears it: cut at `samples`, the last page's granule
 * position, where libvorbisfile stops (this ffmpeg's decoder plays the encoder's final overlap past it).
 */
export function oggVerifyArgs(oggPath: string, samples: number, channels: 1 | 2, opts: Pick<AudioOptions, "maxSeconds" | "monoAsDualMono">): string[] {
  return decodeAndMeter("ogg", oggPath, `atrim=end_sample=${Math.max(1, Math.floor(samples))}`, channels, opts, ["-f", "null", "pipe:1"]);
}

/** Decode a delivered file (forced demuxer, bounded length) through `chain`, metered on the side, to `output`. */
function decodeAndMeter(
  format: "mp3" | "ogg",
  path: string,
  chain: string,
  channels: 1 | 2,
  opts: Pick<AudioOptions, "maxSeconds" | "monoAsDualMono">,
  output: string[],
): string[] {
  return [
    ...GLOBAL,
    "-loglevel",
    "info",
    ...inputGuards(format),
    "-t",
    num(opts.maxSeconds + DECODE_SLACK_SECONDS),
    "-i",
    file(path),
    "-filter_complex",
    tapMeter(chain, opts, channels),
    "-map",
    "[out]",
    ...output,
  ];
}

/** Decode the delivered MP3 once: measured on a side branch, float PCM on stdout for the waveform peaks. */
export function verifyArgs(mp3Path: string, channels: 1 | 2, opts: Pick<AudioOptions, "maxSeconds" | "monoAsDualMono">): string[] {
  const seconds = opts.maxSeconds + DECODE_SLACK_SECONDS;
  return decodeAndMeter("mp3", mp3Path, "", channels, opts, ["-c:a", "pcm_f32le", "-fs", String(pcmBytes(seconds, channels)), "-f", "f32le", "pipe:1"]);
}

// Test support (tests and benches, never the server): generates audio with ffmpeg's lavfi sources and
// measures files the way the contract checks them. It runs ffmpeg directly, outside the runner, on purpose: the
// tests must judge the pipeline's output with an independent meter, and lavfi inputs are exactly what the
// runner's guards refuse.
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveBinaries } from "../../src/audio/ffmpeg.ts";
import { parseEbur128Summary, type Loudness } from "../../src/audio/loudness.ts";

export const bins = resolveBinaries({ ffmpegPath: process.env.FFMPEG_PATH, ffprobePath: process.env.FFPROBE_PATH });

async function ffmpeg(args: string[], stdout: "pipe" | "ignore" = "ignore"): Promise<{ stdout: Uint8Array; stderr: string }> {
  const p = Bun.spawn([bins.ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-y", ...args], { stdin: "ignore", stdout, stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    stdout === "pipe" ? new Response(p.stdout as ReadableStream).bytes() : Promise.resolve(new Uint8Array(0)),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  if (code !== 0) throw new Error(`ffmpeg ${args.join(" ")} failed (${code}): ${err.slice(-1500)}`);
  return { stdout: out, stderr: err };
}

/** Renders a lavfi source graph (e.g. `aevalsrc=...`) into `path` with the given output arguments. */
export async function lavfi(path: string, source: string, out: string[]): Promise<string> {
  await ffmpeg(["-f", "lavfi", "-i", source, ...out, path]);
  return path;
}

/** Converts an audio file with ffmpeg (format/codec/rate/channels given by `out`). */
export async function convert(from: string, path: string, out: string[]): Promise<string> {
  await ffmpeg(["-i", from, ...out, path]);
  return path;
}

/** Integrated loudness and true peak with the contract's meter: `ebur128=peak=true` on the decoded file. */
export async function measure(path: string): Promise<Loudness> {
  const { stderr } = await ffmpeg(["-loglevel", "info", "-i", path, "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"]);
  const m = parseEbur128Summary(stderr);
  if (!m) throw new Error(`no ebur128 summary for ${path}`);
  return m;
}

/** Decodes a file to float PCM at `rate` (the MP3 decoder honours the LAME header): frames and samples. */
export async function decode(path: string, rate = 44100): Promise<{ frames: number; channels: number; samples: Float32Array }> {
  const probe = Bun.spawnSync([bins.ffprobe, "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=channels", "-of", "csv=p=0", path]);
  const channels = Number(probe.stdout.toString().trim());
  const { stdout } = await ffmpeg(["-loglevel", "error", "-i", path, "-ar", String(rate), "-f", "f32le", "-c:a", "pcm_f32le", "-"], "pipe");
  const samples = new Float32Array(stdout.buffer, stdout.byteOffset, stdout.byteLength / 4);
  return { frames: samples.length / channels, channels, samples };
}

/** Writes interleaved float samples as a 32-bit float WAV (e.g. the part of a decode a player plays). */
export async function writeWavF32(path: string, samples: Float32Array, channels: number, rate = 44100): Promise<string> {
  const header = new DataView(new ArrayBuffer(44));
  const tag = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) header.setUint8(at + i, s.charCodeAt(i));
  };
  tag(0, "RIFF");
  header.setUint32(4, 36 + samples.byteLength, true);
  tag(8, "WAVEfmt ");
  header.setUint32(16, 16, true);
  header.setUint16(20, 3, true); // IEEE float
  header.setUint16(22, channels, true);
  header.setUint32(24, rate, true);
  header.setUint32(28, rate * channels * 4, true);
  header.setUint16(32, channels * 4, true);
  header.setUint16(34, 32, true);
  tag(36, "data");
  header.setUint32(40, samples.byteLength, true);
  await Bun.write(path, new Blob([header.buffer, new Uint8Array(samples.buffer as ArrayBuffer, samples.byteOffset, samples.byteLength)]));
  return path;
}

/**
 * An Ogg Vorbis file as a Vorbis player (libvorbisfile, JUCE's reader) plays it: decoded, cut at the last page's
 * granule position (this ffmpeg's decoder plays the encoder's overlap past it), measured with the contract's meter.
 */
export async function playOgg(path: string, granule: number, dir: string): Promise<Loudness & { frames: number; channels: number; samples: Float32Array }> {
  const d = await decode(path);
  const samples = d.samples.subarray(0, granule * d.channels);
  const wav = await writeWavF32(join(dir, `played-${crypto.randomUUID()}.wav`), samples, d.channels);
  return { ...(await measure(wav)), frames: samples.length / d.channels, channels: d.channels, samples };
}

/** ffprobe's view of the first audio stream: codec, rate, channels, and the container's bitrate. */
export function probeStream(path: string): { codec_name: string; sample_rate: string; channels: number; bit_rate?: string } {
  const p = Bun.spawnSync([
    bins.ffprobe,
    "-v",
    "error",
    "-select_streams",
    "a:0",
    "-show_entries",
    "stream=codec_name,sample_rate,channels,bit_rate",
    "-of",
    "json",
    path,
  ]);
  return JSON.parse(p.stdout.toString()).streams[0];
}

// Test signals. Expressions are lavfi aevalsrc syntax (`t` in seconds, random(n) is a noise generator).
const kick = "sin(2*PI*(50+120*exp(-mod(t,0.5)*30))*mod(t,0.5))*exp(-mod(t,0.5)*9)";
const snare = "(2*random(0)-1)*exp(-mod(t+0.5,1)*25)";
const hat = "(2*random(1)-1)*exp(-mod(t,0.125)*80)";
const chord = "(sin(2*PI*220*t)+sin(2*PI*277.2*t)+sin(2*PI*329.6*t))";

export const signals = {
  /** Drum loop, sharp transients, high crest factor (~20 dB): needs the limiter to reach −14 LUFS. */
  drums: (d: number) => `aevalsrc=exprs='0.5*${kick}+0.35*${snare}+0.12*${hat}|0.5*${kick}+0.3*${snare}+0.12*${hat}':s=44100:d=${d}`,
  /** The drums with digital silence from `from` to `to` seconds. */
  drumsWithGap: (d: number, from: number, to: number) =>
    `aevalsrc=exprs='if(between(t,${from},${to}),0,0.5*${kick}+0.35*${snare}+0.12*${hat})|if(between(t,${from},${to}),0,0.5*${kick}+0.3*${snare}+0.12*${hat})':s=44100:d=${d}`,
  /** A quiet, slowly swelling pad around −40 LUFS. */
  quietPad: (d: number) => `aevalsrc=exprs='0.004*${chord}*(0.7+0.3*sin(2*PI*0.5*t))|0.004*${chord}*(0.7+0.3*sin(2*PI*0.5*t+1))':s=44100:d=${d}`,
  /** A very loud loop, hard-clipped at full scale (about −3 LUFS). */
  loudClipped: (d: number) =>
    `aevalsrc=exprs='max(-1,min(1,3*(0.5*${kick}+0.3*sin(2*PI*55*t)+0.2*${chord})))|max(-1,min(1,3*(0.5*${kick}+0.3*sin(2*PI*55*t)+0.21*${chord})))':s=44100:d=${d}`,
  /** A produced-sounding loop: drums, bass, chord through soft saturation (crest ~12 dB). */
  produced: (d: number, rate = 44100) =>
    `aevalsrc=exprs='0.6*tanh(1.6*(${kick}+0.5*${snare}+0.15*${hat}+0.4*sin(2*PI*55*t)+0.12*${chord}))|0.6*tanh(1.6*(${kick}+0.45*${snare}+0.15*${hat}+0.4*sin(2*PI*55*t)+0.13*${chord}))':s=${rate}:d=${d}`,
  silence: (d: number) => `aevalsrc=exprs='0|0':s=44100:d=${d}`,
};

/**
 * The first line of a broken ffmpeg's script that lets it pass the tools check (src/audio/tools.ts) as the real one:
 * the check's calls (`-hide_banner -version`, `-encoders`...) go to the real ffmpeg, so the breakage shows while
 * processing, as it would for an ffmpeg that crashes or hangs on some input.
 */
export const passesToolsCheck = () => `case "$1" in -hide_banner) exec '${bins.ffmpeg}' "$@";; esac\n`;

/** An executable shell script `dir/name` running `body` (a stand-in for ffmpeg or ffprobe in tests). */
export function shellScript(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** A shell script standing in for ffmpeg that never finishes (exec: the killed pid is the sleeper itself). */
export function hangingBinary(dir: string, marker: string): string {
  const path = join(dir, "hanging-ffmpeg");
  writeFileSync(path, `#!/bin/sh\n${passesToolsCheck()}exec sleep ${marker}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** A copy of a WAV whose RIFF and data sizes claim about 4 GB, though the file is small (a lying header). */
export function wavClaiming4GB(wav: Uint8Array): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(wav);
  const v = new DataView(bytes.buffer);
  v.setUint32(4, 0xffffffff - 8, true);
  for (let at = 12; at + 8 <= bytes.length; at += 8 + v.getUint32(at + 4, true)) {
    if (String.fromCharCode(...bytes.subarray(at, at + 4)) === "data") {
      v.setUint32(at + 4, 0xfffffff0, true);
      break;
    }
  }
  return bytes;
}

/** An hour of 8 kbps MP3 without a Xing header (ten seconds of frames, 360 times): a valid 3.6 MB stream. */
export async function hourLongMp3(dir: string): Promise<Uint8Array<ArrayBuffer>> {
  const short = await lavfi(join(dir, "short8.mp3"), "sine=f=440:r=8000:d=10", [
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
  const one = new Uint8Array(await Bun.file(short).arrayBuffer());
  const hour = new Uint8Array(one.length * 360);
  for (let i = 0; i < 360; i++) hour.set(one, i * one.length);
  return hour;
}

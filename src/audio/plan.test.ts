// The ffmpeg commands, checked without running ffmpeg.
import { describe, expect, test } from "bun:test";
import { assertGuardedArgs } from "./ffmpeg.ts";
import { DEFAULT_AUDIO_OPTIONS as O } from "./options.ts";
import {
  analyseArgs,
  DECODE_SLACK_SECONDS,
  encodeArgs,
  gainFilter,
  limitArgs,
  limiterFilter,
  mp3Bytes,
  num,
  oggEncodeArgs,
  oggVerifyArgs,
  outputChannels,
  pcmBytes,
  probeArgs,
  verifyArgs,
} from "./plan.ts";

/** The value following `flag` (the last occurrence, or the n-th from the end). */
const after = (args: string[], flag: string, nth = 1) => {
  const at = args.flatMap((a, i) => (a === flag ? [i] : [])).at(-nth);
  return at === undefined ? undefined : args[at + 1];
};
const graph = (args: string[]) => after(args, "-filter_complex") ?? "";

const probe = { format: "wav" as const, channels: 2 };
const all = {
  probe: probeArgs("/tmp/x/upload", "flac"),
  analyse: analyseArgs(probe, { input: "/tmp/x/upload", pcm: "/tmp/x/input.f32" }, O),
  limit: limitArgs({ pcm: "/tmp/x/input.f32", out: "/tmp/x/l.f32" }, 2, { gainDb: 6, limitDb: -2.7 }, O),
  encode: encodeArgs({ pcm: "/tmp/x/input.f32", mp3: "/tmp/x/out.mp3" }, 2, -3.25, O),
  verify: verifyArgs("/tmp/x/out.mp3", 2, O),
  oggEncode: oggEncodeArgs({ pcm: "/tmp/x/input.f32", ogg: "/tmp/x/out.ogg" }, 2, -3.75, O),
  oggVerify: oggVerifyArgs("/tmp/x/out.ogg", 352800, 2, O),
};

describe("plan", () => {
  test("every command passes the runner's guards: forced demuxer, protocol whitelist, file: input", () => {
    assertGuardedArgs("ffprobe", all.probe);
    for (const k of ["analyse", "limit", "encode", "verify", "oggEncode", "oggVerify"] as const) assertGuardedArgs("ffmpeg", all[k]);
    for (const k of ["analyse", "limit", "encode", "verify", "oggEncode", "oggVerify"] as const) {
      expect(all[k]).toContain("-nostdin");
      expect(after(all[k], "-protocol_whitelist")).toBe("file,pipe");
    }
  });

  test("probe forces the sniffed demuxer and only reads headers", () => {
    expect(all.probe).toEqual([
      "-v",
      "error",
      "-protocol_whitelist",
      "file,pipe",
      "-f",
      "flac",
      "-print_format",
      "json",
      "-show_format",
      "-show_streams",
      "-i",
      "file:/tmp/x/upload",
    ]);
  });

  test("analyse decodes at most LOOP_MAX_SECONDS + slack into bounded 44.1 kHz float PCM, measuring on the side", () => {
    const a = all.analyse;
    expect(after(a, "-f", 2)).toBe("wav"); // input demuxer
    expect(after(a, "-t")).toBe(String(O.maxSeconds + DECODE_SLACK_SECONDS));
    expect(a.indexOf("-t")).toBeLessThan(a.indexOf("-i")); // an input option: stops the demuxer itself
    expect(graph(a)).toContain("aresample=osr=44100:osf=flt,aformat=channel_layouts=stereo");
    expect(graph(a)).toContain("ebur128=peak=true:framelog=verbose");
    expect(graph(a)).toContain("aresample=48000,ebur128"); // the meter's 48 kHz stays on its branch
    expect(after(a, "-fs")).toBe(String(pcmBytes(O.maxSeconds + DECODE_SLACK_SECONDS, 2)));
    expect(a.slice(-3)).toEqual(["-f", "f32le", "file:/tmp/x/input.f32"]);
  });

  test("mono stays mono, anything wider becomes stereo, mono may be metered as dual mono", () => {
    expect([1, 2, 6, 8].map(outputChannels)).toEqual([1, 2, 2, 2]);
    const mono = analyseArgs({ format: "aiff", channels: 1 }, { input: "/i", pcm: "/p" }, O);
    expect(graph(mono)).toContain("channel_layouts=mono");
    expect(graph(mono)).not.toContain("dualmono");
    const dual = analyseArgs({ format: "aiff", channels: 1 }, { input: "/i", pcm: "/p" }, { ...O, monoAsDualMono: true });
    expect(graph(dual)).toContain("dualmono=true");
    const wide = analyseArgs({ format: "wav", channels: 6 }, { input: "/i", pcm: "/p" }, O);
    expect(graph(wide)).toContain("channel_layouts=stereo");
    expect(after(wide, "-fs")).toBe(String(pcmBytes(O.maxSeconds + 1, 2)));
  });

  test("encode: CBR at the bitrate, 44.1 kHz, gapless Xing/LAME header, no tags, bounded size", () => {
    const e = all.encode;
    expect(after(e, "-f", 2)).toBe("f32le"); // the PCM we wrote, read raw
    expect(after(e, "-af")).toBe("volume=-3.25dB:precision=double");
    expect(after(e, "-c:a")).toBe("libmp3lame");
    expect(after(e, "-b:a")).toBe("128k");
    expect(after(e, "-compression_level")).toBe("5");
    expect(after(e, "-ar")).toBe("44100");
    expect(after(e, "-ac")).toBe("2");
    expect(after(e, "-write_xing")).toBe("1");
    expect(after(e, "-id3v2_version")).toBe("0");
    expect(after(e, "-map_metadata")).toBe("-1");
    expect(after(e, "-fs")).toBe(String(mp3Bytes(O.maxSeconds + 1, 128)));
    expect(e.slice(-3)).toEqual(["-f", "mp3", "file:/tmp/x/out.mp3"]);
    expect(e).not.toContain("-abr");
    // Already limited PCM is encoded untouched.
    expect(encodeArgs({ pcm: "/p", mp3: "/m" }, 1, null, { ...O, mp3BitrateKbps: 192 })).not.toContain("-af");
    expect(after(encodeArgs({ pcm: "/p", mp3: "/m" }, 1, null, { ...O, mp3BitrateKbps: 192 }), "-b:a")).toBe("192k");
  });

  test("the limiter runs 4× oversampled and its lookahead delay is compensated exactly", () => {
    const f = limiterFilter(6, -2.7);
    expect(f).toBe(
      "volume=6dB:precision=double,aresample=176400,apad=pad_len=882," +
        "alimiter=limit=0.732825:attack=5:release=50:level=false,atrim=start_sample=882,aresample=44100",
    );
    expect(limiterFilter(0, -40)).toContain("limit=0.0625"); // alimiter's floor
    expect(limiterFilter(0, 3)).toContain("limit=1:");
    expect(graph(all.limit)).toContain(f);
    expect(all.limit.slice(-3)).toEqual(["-f", "f32le", "file:/tmp/x/l.f32"]);
  });

  test("verify decodes the MP3 (forced demuxer) to PCM on stdout and meters it", () => {
    const v = all.verify;
    expect(after(v, "-f", 2)).toBe("mp3");
    expect(after(v, "-i")).toBe("file:/tmp/x/out.mp3");
    expect(graph(v)).toContain("ebur128=peak=true");
    expect(graph(v)).toContain("aformat=sample_rates=44100,asplit=2[meter][out]");
    expect(v.slice(-3)).toEqual(["-f", "f32le", "pipe:1"]);
  });

  test("the Ogg: Vorbis (not Opus) at the MP3's bitrate, 44.1 kHz, no tags, bounded; verified up to its granule", () => {
    const e = all.oggEncode;
    expect(after(e, "-c:a")).toBe("libvorbis");
    expect(after(e, "-b:a")).toBe("128k");
    expect(after(e, "-ar")).toBe("44100");
    expect(after(e, "-ac")).toBe("2");
    expect(after(e, "-af")).toBe(gainFilter(-3.75));
    expect(after(e, "-map_metadata")).toBe("-1");
    expect(Number(after(e, "-fs"))).toBe(mp3Bytes(O.maxSeconds + DECODE_SLACK_SECONDS, 256));
    expect(e.slice(-3)).toEqual(["-f", "ogg", "file:/tmp/x/out.ogg"]);
    expect(oggEncodeArgs({ pcm: "/p", ogg: "/o" }, 1, null, O)).not.toContain("-af");
    const v = all.oggVerify;
    expect(after(v, "-f", 2)).toBe("ogg");
    expect(graph(v)).toStartWith("[0:a:0]atrim=end_sample=352800,aformat=sample_rates=44100");
    expect(graph(v)).toContain("ebur128=peak=true");
    expect(v.slice(-3)).toEqual(["-f", "null", "pipe:1"]);
  });

  test("numbers in filters never use exponent notation", () => {
    expect(num(1e-7)).toBe("0");
    expect(num(-0.00001, 6)).toBe("-0.00001");
    expect(num(12)).toBe("12");
    expect(num(100, 0)).toBe("100");
    expect(num(-1e-7)).toBe("0");
    expect(num(-2.5)).toBe("-2.5");
    expect(gainFilter(1e-9)).toBe("volume=0dB:precision=double");
    expect(() => num(Number.NaN)).toThrow();
    expect(() => num(Infinity)).toThrow();
  });

  test("paths are single arguments: spaces and quotes never split or escape", () => {
    const odd = '/tmp/a dir/it\'s "x";rm -rf ~.wav';
    const a = analyseArgs(probe, { input: odd, pcm: "/p" }, O);
    expect(a).toContain(`file:${odd}`);
  });
});

// ffprobe's JSON against the allow-list and limits (pure), plus the options and error types around it.
import { describe, expect, test } from "bun:test";
import { AudioError, isAudioError, toApiError } from "./errors.ts";
import { DEFAULT_AUDIO_OPTIONS, resolveAudioOptions } from "./options.ts";
import { ALLOWED_CODECS, parseProbe } from "./probe.ts";

const limits = DEFAULT_AUDIO_OPTIONS;
const audio = (o: Record<string, unknown> = {}) => ({
  codec_type: "audio",
  codec_name: "pcm_s16le",
  sample_rate: "44100",
  channels: 2,
  bits_per_sample: 16,
  ...o,
});
const json = (stream: Record<string, unknown>, format: Record<string, unknown> = { format_name: "wav", duration: "16.000000", bit_rate: "1411200" }) => ({
  streams: [stream],
  format,
});
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof AudioError) return e.code;
    throw e;
  }
  return "accepted";
};

describe("parseProbe", () => {
  test("a plain WAV", () => {
    expect(parseProbe(json(audio()), "wav", limits)).toEqual({
      format: "wav",
      codec: "pcm_s16le",
      sampleRate: 44100,
      channels: 2,
      durationSeconds: 16,
      bitsPerSample: 16,
      bitRate: 1411200,
    });
  });

  test("the codec must be allowed for the container", () => {
    expect(code(() => parseProbe(json(audio({ codec_name: "adpcm_ms" })), "wav", limits))).toBe("unsupported_format");
    expect(code(() => parseProbe(json(audio({ codec_name: "mp3" })), "wav", limits))).toBe("unsupported_format"); // MP3 in WAV
    expect(code(() => parseProbe(json(audio({ codec_name: "flac" })), "ogg", limits))).toBe("unsupported_format");
    expect(code(() => parseProbe(json(audio({ codec_name: "opus" })), "ogg", limits))).toBe("accepted");
    for (const [format, codecs] of Object.entries(ALLOWED_CODECS)) {
      for (const c of codecs) expect(code(() => parseProbe(json(audio({ codec_name: c })), format as "wav", limits))).toBe("accepted");
    }
  });

  test("no audio stream, or only a picture: unsupported", () => {
    expect(code(() => parseProbe({ streams: [{ codec_type: "video", codec_name: "png" }] }, "mp3", limits))).toBe("unsupported_format");
    expect(code(() => parseProbe({}, "mp3", limits))).toBe("unsupported_format");
    expect(code(() => parseProbe(null, "mp3", limits))).toBe("unsupported_format");
  });

  test("cover art before the audio is skipped", () => {
    const r = parseProbe(
      { streams: [{ codec_type: "video", codec_name: "mjpeg" }, audio({ codec_name: "mp3", bits_per_sample: 0 })], format: { duration: "8.0" } },
      "mp3",
      limits,
    );
    expect(r).toMatchObject({ codec: "mp3", bitsPerSample: null, durationSeconds: 8, bitRate: null });
  });

  test("sample rate 8..192 kHz", () => {
    expect(code(() => parseProbe(json(audio({ sample_rate: "7999" })), "wav", limits))).toBe("unsupported_sample_rate");
    expect(code(() => parseProbe(json(audio({ sample_rate: "384000" })), "wav", limits))).toBe("unsupported_sample_rate");
    expect(code(() => parseProbe(json(audio({ sample_rate: "8000" })), "wav", limits))).toBe("accepted");
    expect(code(() => parseProbe(json(audio({ sample_rate: "192000" })), "wav", limits))).toBe("accepted");
    expect(code(() => parseProbe(json(audio({ sample_rate: "0" })), "wav", limits))).toBe("corrupt_audio");
  });

  test("1..8 channels", () => {
    expect(code(() => parseProbe(json(audio({ channels: 9 })), "wav", limits))).toBe("unsupported_channels");
    expect(code(() => parseProbe(json(audio({ channels: 8 })), "wav", limits))).toBe("accepted");
    expect(code(() => parseProbe(json(audio({ channels: 0 })), "wav", limits))).toBe("corrupt_audio");
  });

  test("0.5..120 s from the header; an unknown duration is left to the decode's bound", () => {
    const d = (duration: string) => code(() => parseProbe(json(audio(), { duration }), "wav", limits));
    expect(d("0.49")).toBe("too_short");
    expect(d("0.5")).toBe("accepted");
    expect(d("120")).toBe("accepted");
    expect(d("120.01")).toBe("too_long");
    expect(d("3654.72")).toBe("too_long");
    expect(parseProbe(json(audio(), {}), "wav", limits).durationSeconds).toBeNull();
    expect(parseProbe(json(audio({ duration: "3.5" }), { duration: "N/A" }), "wav", limits).durationSeconds).toBe(3.5);
  });
});

describe("options", () => {
  test("defaults", () => {
    expect(resolveAudioOptions()).toEqual({ ...DEFAULT_AUDIO_OPTIONS });
    expect(resolveAudioOptions({ targetLufs: undefined, mp3BitrateKbps: 192 }).mp3BitrateKbps).toBe(192);
    expect(resolveAudioOptions({ targetLufs: undefined }).targetLufs).toBe(-14);
  });
  test.each([
    ["targetLufs", { targetLufs: 0 }],
    ["truePeakDb", { truePeakDb: 1 }],
    ["mp3BitrateKbps", { mp3BitrateKbps: 100 }],
    ["mp3Quality", { mp3Quality: 2.5 }],
    ["maxSeconds", { minSeconds: 5, maxSeconds: 4 }],
    ["maxChannels", { maxChannels: 0 }],
    ["waveformPeaks", { waveformPeaks: 8 }],
    ["silenceLufs", { silenceLufs: -10 }],
    ["maxEncodes", { maxEncodes: 0 }],
    ["oggEncodeLossLu", { oggEncodeLossLu: -1 }],
    ["targetLufs", { targetLufs: Number.NaN }],
  ] as const)("a bad %s is refused, naming the option", (name, bad) => {
    expect(() => resolveAudioOptions(bad)).toThrow(name);
  });
});

describe("AudioError", () => {
  test("input problems are permanent, machine problems retryable; both map to the API's error body", () => {
    const bad = new AudioError("too_long", "The loop lasts 60.9 minutes; the limit is 2.0 minutes");
    expect(bad.retryable).toBe(false);
    expect(bad.status).toBe(422);
    expect(toApiError(bad).toBody()).toEqual({ error: "too_long", message: "The loop lasts 60.9 minutes; the limit is 2.0 minutes" });
    expect(new AudioError("unsupported_format", "x").status).toBe(415);
    const busy = new AudioError("timeout", "took too long", "ffmpeg killed after 30001 ms");
    expect(busy.retryable).toBe(true);
    expect(busy.status).toBe(503);
    expect(toApiError(busy).toBody()).not.toHaveProperty("detail");
    expect(isAudioError(busy)).toBe(true);
    expect(isAudioError(new Error("x"))).toBe(false);
  });
});

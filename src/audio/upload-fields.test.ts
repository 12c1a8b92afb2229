// The upload's text fields are checked by one schema (UploadTextFields); these pin what it accepts and the
// validation_error it gives, field by field.
import { describe, expect, test } from "bun:test";
import { ApiError } from "../http/errors.ts";
import { parseUploadMeta } from "./upload.ts";

const refusal = (fields: Record<string, unknown>, header: string | null = null) => {
  try {
    parseUploadMeta(fields, header);
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return (err as ApiError).toBody() as { error: string; fields: Record<string, string> };
  }
  throw new Error("expected a validation_error");
};

describe("parseUploadMeta", () => {
  test("the plugin's fields, trimmed and read", () => {
    const m = parseUploadMeta(
      {
        filename: " Night\u0007 chords ",
        bpm: "120.0",
        key: "A minor",
        genre: "lofi, house,,",
        daw: "Ableton Live",
        duration_bars: "8",
        recording_id: "0123456789ABCDEF0123456789ABCDEF",
        extra: "ignored",
      },
      " key-12345 ",
    );
    expect(m).toEqual({
      title: "Night chords",
      bpm: 120,
      key: m.key,
      daw: "Ableton Live",
      genres: ["lofi", "house"],
      durationBars: 8,
      commentAudience: "everyone",
      recordingId: "0123456789abcdef0123456789abcdef",
      idempotencyKey: "key-12345",
    });
    expect(m.key).not.toBe("");
  });

  test("nothing given: defaults, nothing refused", () => {
    expect(parseUploadMeta({}, null)).toMatchObject({
      title: "Untitled loop",
      bpm: null,
      durationBars: null,
      recordingId: null,
      idempotencyKey: null,
      genres: [],
    });
  });

  test("a tempo outside 20-400 is stored as unknown, numbers as Number() reads them", () => {
    expect(parseUploadMeta({ bpm: "999" }, null).bpm).toBeNull();
    expect(parseUploadMeta({ bpm: "5" }, null).bpm).toBeNull();
    expect(parseUploadMeta({ bpm: "1.2e2" }, null).bpm).toBe(120);
    expect(parseUploadMeta({ bpm: ".5e3" }, null).bpm).toBe(null);
    expect(parseUploadMeta({ duration_bars: "08.0" }, null).durationBars).toBe(8);
  });

  test("each refused field is named with its rule's message", () => {
    const r = refusal({ bpm: "fast", duration_bars: "300", recording_id: "xyz" }, "short");
    expect(r.error).toBe("validation_error");
    expect(r.fields).toEqual({
      bpm: 'A tempo as a decimal number, e.g. "120.0"',
      duration_bars: "A whole number of bars from 1 to 256",
      recording_id: "32 hexadecimal characters",
      "Idempotency-Key": "8 to 128 visible ASCII characters",
    });
    expect(refusal({ duration_bars: "0" }).fields).toEqual({ duration_bars: "A whole number of bars from 1 to 256" });
    expect(refusal({ duration_bars: "2.5" }).fields).toEqual({ duration_bars: "A whole number of bars from 1 to 256" });
  });
});

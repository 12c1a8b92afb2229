import { describe, expect, test } from "bun:test";
import {
  correctAim,
  decideGain,
  isGoodLimiterPoint,
  type LimiterPoint,
  nextLimiterGains,
  parseEbur128Summary,
  pickLimiterPoint,
  shiftLimiterPoint,
} from "./loudness.ts";

// What ffmpeg prints with -filter_complex: an empty summary from the graph it configured first, then the real one.
const STDERR = `Input #0, wav, from 'file:/tmp/x/upload':
[Parsed_ebur128_3 @ 0x1] Summary:

  Integrated loudness:
    I:         -70.0 LUFS
    Threshold:   0.0 LUFS

  True peak:
    Peak:       -inf dBFS
size=    5512kB time=00:00:16.00 bitrate=2822.4kbits/s speed= 120x
[Parsed_ebur128_3 @ 0x2] Summary:

  Integrated loudness:
    I:         -18.4 LUFS
    Threshold: -28.6 LUFS

  Loudness range:
    LRA:         2.1 LU

  True peak:
    Peak:        1.5 dBFS
`;

describe("parseEbur128Summary", () => {
  test("reads the last summary", () => {
    expect(parseEbur128Summary(STDERR)).toEqual({ lufs: -18.4, truePeakDb: 1.5 });
  });
  test("silence: -70 LUFS and -inf peak", () => {
    expect(parseEbur128Summary(STDERR.slice(0, STDERR.indexOf("size=")))).toEqual({ lufs: -70, truePeakDb: -Infinity });
  });
  test("no summary, no numbers", () => {
    expect(parseEbur128Summary("Invalid data found when processing input")).toBeNull();
    expect(parseEbur128Summary("Summary:\n  nothing")).toBeNull();
  });
});

describe("decideGain", () => {
  const aim = { lufs: -13.5, ceilingDb: -2 };
  test("a plain gain when the peak stays under the ceiling", () => {
    expect(decideGain({ lufs: -20, truePeakDb: -9 }, aim)).toEqual({ mode: "linear", gainDb: 6.5 });
    expect(decideGain({ lufs: -6, truePeakDb: 0.5 }, aim)).toEqual({ mode: "linear", gainDb: -7.5 });
    expect(decideGain({ lufs: -20, truePeakDb: -8.5 }, aim).mode).toBe("linear"); // exactly at the ceiling
  });
  test("the limiter when it would not", () => {
    expect(decideGain({ lufs: -18, truePeakDb: 1.5 }, aim)).toEqual({ mode: "limiter", gainDb: 4.5 });
  });
});

describe("limiter search", () => {
  const input = { lufs: -18, truePeakDb: 1.5 };
  const aim = { lufs: -13.5, ceilingDb: -2 };
  const limitDb = -2.7;
  const knee = { g: limitDb - input.truePeakDb, l: input.lufs + limitDb - input.truePeakDb }; // (-4.2, -22.2)
  const p = (gainDb: number, lufs: number, truePeakDb = -2.3): LimiterPoint => ({ gainDb, out: { lufs, truePeakDb } });

  test("first round: two gains that assume 85 % and 55 % of each dB past the knee survive", () => {
    const [a, b] = nextLimiterGains(input, aim, limitDb, []);
    expect(a).toBeCloseTo(knee.g + (aim.lufs - knee.l) / 0.85, 6);
    expect(b).toBeCloseTo(knee.g + (aim.lufs - knee.l) / 0.55, 6);
  });

  test("then interpolates between the points around the aim", () => {
    expect(nextLimiterGains(input, aim, limitDb, [p(6, -15.5), p(12, -12.5)])).toEqual([10]);
    // Only points under the aim so far: extrapolate from the last two.
    const [g] = nextLimiterGains(input, aim, limitDb, [p(4, -16), p(6, -15)]);
    expect(g).toBeCloseTo(6 + 1.5 / 0.5, 6);
  });

  test("extrapolation is bounded: at least 10 % slope, at most 12 dB a step", () => {
    const [g] = nextLimiterGains(input, aim, limitDb, [p(10, -16), p(12, -15.99)]);
    expect(g).toBe(24);
  });

  test("between the knee and the first point when even the first was too loud", () => {
    const [g] = nextLimiterGains(input, aim, limitDb, [p(12, -12)]);
    expect(g).toBeGreaterThan(knee.g);
    expect(g).toBeLessThan(12);
  });

  test("good means under the ceiling and within 0.2 LU; picking prefers those under the ceiling", () => {
    expect(isGoodLimiterPoint(aim, p(9, -13.4))).toBe(true);
    expect(isGoodLimiterPoint(aim, p(9, -13.8))).toBe(false);
    expect(isGoodLimiterPoint(aim, p(9, -13.5, -1.9))).toBe(false);
    expect(pickLimiterPoint(aim, [p(9, -13.5, -1.9), p(8, -14)])?.gainDb).toBe(8);
    expect(pickLimiterPoint(aim, [p(9, -13.5, -1.9)])).toBeNull();
  });
});

describe("correctAim", () => {
  const contract = { targetLufs: -14, truePeakDb: -1, toleranceLu: 0.5 };
  const aim = { lufs: -13.5, ceilingDb: -2 };
  const pre = { lufs: -13.5, truePeakDb: -2.2 };
  test("within tolerance and under the ceiling: done", () => {
    expect(correctAim(aim, pre, { lufs: -14.4, truePeakDb: -1 }, contract)).toEqual({ ok: true });
  });
  test("too quiet: aim louder by what the encoder took", () => {
    expect(correctAim(aim, pre, { lufs: -14.8, truePeakDb: -3 }, contract)).toEqual({ ok: false, aim: { lufs: -12.7, ceilingDb: -2 } });
  });
  test("peak over: lower the ceiling by a quarter more than the encoder added", () => {
    // The encoder raised the peak by 1.7 dB (-2.2 → -0.5): next time stay 2.125 + 0.1 dB under -1.
    const r = correctAim(aim, pre, { lufs: -14.2, truePeakDb: -0.5 }, contract);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.aim.lufs).toBeCloseTo(-13.3, 6);
      expect(r.aim.ceilingDb).toBeCloseTo(-3.225, 6);
    }
  });
  test("peak over although the encoder added nothing: still at least the excess and 0.1 dB lower", () => {
    const r = correctAim(aim, { lufs: -13.5, truePeakDb: -0.6 }, { lufs: -14, truePeakDb: -0.6 }, contract);
    if (r.ok) throw new Error("expected a correction");
    expect(r.aim.ceilingDb).toBeCloseTo(-2.5, 6);
  });
});

describe("shiftLimiterPoint", () => {
  test("a run at another threshold moves by the same dB in gain, loudness and peak", () => {
    expect(shiftLimiterPoint({ gainDb: 10, out: { lufs: -13.5, truePeakDb: -2.2 } }, -0.6)).toEqual({
      gainDb: 9.4,
      out: { lufs: -14.1, truePeakDb: -2.8000000000000003 },
    });
  });
});

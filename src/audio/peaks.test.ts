import { describe, expect, test } from "bun:test";
import { computePeaks, PeakAccumulator } from "./peaks.ts";
import { DEFAULT_SVG_OPTIONS, renderWaveformSvg } from "./svg.ts";

const bytesOf = (f: Float32Array) => new Uint8Array(f.buffer.slice(0));

describe("peaks", () => {
  test("the largest absolute sample of any channel per bucket, rounded to 3 decimals", () => {
    // 8 stereo frames into 4 buckets of 2 frames.
    const s = new Float32Array([0.1, -0.2, 0, 0, -0.5, 0.25, 0.3, 0, 0, 0, 0, 0, 0.12345, 0, 0, -0.9876]);
    expect(computePeaks(s, 2, 4)).toEqual([0.2, 0.5, 0, 0.988]);
  });

  test("values over full scale are clamped to 1", () => {
    expect(computePeaks(new Float32Array([1.7, -2, 0.5, 0.5]), 1, 2)).toEqual([1, 0.5]);
  });

  test("streamed in chunks split anywhere (mid-sample, mid-frame, misaligned) = in one piece", () => {
    const frames = 10_000;
    const s = new Float32Array(frames * 2);
    for (let i = 0; i < s.length; i++) s[i] = Math.sin(i / 37) * (i / s.length);
    const whole = computePeaks(s, 2, 800);
    const acc = new PeakAccumulator(frames, 2, 800);
    const b = bytesOf(s);
    let at = 0;
    for (const size of [1, 3, 7, 4096, 5, 8191, 2]) {
      // A view at an odd offset of a bigger buffer: Float32Array cannot alias it directly.
      const chunk = new Uint8Array(size + 1).subarray(1);
      chunk.set(b.subarray(at, at + size));
      acc.push(chunk);
      at += size;
    }
    acc.push(b.subarray(at));
    expect(acc.frames).toBe(frames);
    expect(acc.result()).toEqual(whole);
  });

  test("frames beyond the expected count land in the last bucket; missing frames leave zeros", () => {
    const more = new PeakAccumulator(4, 1, 2);
    more.add(new Float32Array([0.1, 0.1, 0.2, 0.2, 0.9]));
    expect(more.result()).toEqual([0.1, 0.9]);
    const fewer = new PeakAccumulator(8, 1, 4);
    fewer.add(new Float32Array([0.5, 0.5, 0.5]));
    expect(fewer.result()).toEqual([0.5, 0.5, 0, 0]);
  });

  test("a fixed count whatever the length", () => {
    for (const n of [22050, 705600, 705601]) expect(computePeaks(new Float32Array(n), 1)).toHaveLength(800);
  });

  test("bad arguments", () => {
    expect(() => new PeakAccumulator(10, 2, 0)).toThrow();
    expect(() => new PeakAccumulator(10, 0, 10)).toThrow();
  });
});

describe("svg", () => {
  test("one mirrored path, one unit per peak, stretchable", () => {
    const svg = renderWaveformSvg([0, 1, 0.5]);
    expect(svg).toBe(
      `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 3 100" preserveAspectRatio="none">` +
        `<path fill="${DEFAULT_SVG_OPTIONS.color}" d="M0 50L0.5 49.5L1.5 0L2.5 25L3 50L2.5 75L1.5 100L0.5 50.5Z"/></svg>`,
    );
  });

  test("silence still draws a thin line; nonsense values are treated as silence", () => {
    expect(renderWaveformSvg([])).toContain(`d="M0 49.5H1V50.5H0Z"`);
    expect(renderWaveformSvg([Number.NaN, -1, 7], { height: 10 })).toBe(
      `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 3 10" preserveAspectRatio="none">` +
        `<path fill="${DEFAULT_SVG_OPTIONS.color}" d="M0 5L0.5 4.5L1.5 4.5L2.5 0L3 5L2.5 10L1.5 5.5L0.5 5.5Z"/></svg>`,
    );
  });

  test("the colour cannot inject markup", () => {
    expect(renderWaveformSvg([0.5], { color: "#0af" })).toContain(`fill="#0af"`);
    expect(renderWaveformSvg([0.5], { color: "teal" })).toContain(`fill="teal"`);
    expect(() => renderWaveformSvg([0.5], { color: `red"/><script>alert(1)</script>` })).toThrow();
    expect(() => renderWaveformSvg([0.5], { height: 0 })).toThrow();
  });

  test("800 peaks stay small", () => {
    const peaks = Array.from({ length: 800 }, (_, i) => Math.round(Math.abs(Math.sin(i / 9)) * 1000) / 1000);
    expect(renderWaveformSvg(peaks).length).toBeLessThan(24_000);
  });
});

// The waveform PNG the plugin draws (plugin/src/ui/common/WaveformImageView.cpp decodes waveform_url with JUCE's
// image loaders; plugin/src/ui/feed/PostCard.cpp sizes the box). Decoded by a real ffmpeg, independent of our
// encoder, and compared with the peaks it was drawn from.
import { describe, expect, test } from "bun:test";
import { ffmpegDecode } from "../../test/support/images.ts";
import { DEFAULT_PNG_OPTIONS, encodePng, renderWaveformPng } from "./png.ts";

const alphaAt = (img: { width: number; rgba: Uint8Array }, x: number, y: number) => img.rgba[(y * img.width + x) * 4 + 3]!;
/** Opaque-ish pixels in column x. */
const columnHeight = (img: { width: number; height: number; rgba: Uint8Array }, x: number) => {
  let n = 0;
  for (let y = 0; y < img.height; y++) n += alphaAt(img, x, y) / 255;
  return n;
};

describe("waveform PNG", () => {
  test("is a PNG of the card's size: signature, IHDR 1800×210 RGBA, decodable by ffmpeg", () => {
    const png = renderWaveformPng(Array.from({ length: 800 }, (_, i) => (i % 100) / 100));
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const v = new DataView(png.buffer, png.byteOffset);
    expect(v.getUint32(8)).toBe(13);
    expect(String.fromCharCode(...png.subarray(12, 16))).toBe("IHDR");
    expect([v.getUint32(16), v.getUint32(20)]).toEqual([DEFAULT_PNG_OPTIONS.width, DEFAULT_PNG_OPTIONS.height]);
    expect([png[24], png[25]]).toEqual([8, 6]); // 8-bit RGBA
    expect(v.getUint32(29)).toBe(Bun.hash.crc32(png.subarray(12, 29))); // IHDR CRC
    expect(String.fromCharCode(...png.subarray(png.length - 8, png.length - 4))).toBe("IEND");
    const img = ffmpegDecode(png);
    expect([img.width, img.height]).toEqual([1800, 210]);
    expect(png.length).toBeLessThan(64 * 1024); // small enough to load per card
  });

  test("matches the peaks: a silent half is empty, a loud half is drawn, heights follow the peaks", () => {
    const peaks = Array.from({ length: 800 }, (_, i) => (i < 400 ? 0.8 : 0));
    const img = ffmpegDecode(renderWaveformPng(peaks));
    // Left half: 80 % of the height, centred, in the plugin's waveform colour; right half: fully transparent.
    for (const x of [0, 450, 899]) {
      expect(Math.abs(columnHeight(img, x) - 0.8 * 210)).toBeLessThan(1.01);
      const at = (105 * img.width + x) * 4;
      expect([...img.rgba.subarray(at, at + 4)]).toEqual([0xb4, 0xe4, 0xff, 255]);
      expect(alphaAt(img, x, 0)).toBe(0);
      expect(alphaAt(img, x, 209)).toBe(0);
    }
    for (let x = 900; x < 1800; x++) expect(columnHeight(img, x)).toBe(0);
    // A ramp: each column as high as its peak (several pixels per peak here).
    const ramp = ffmpegDecode(renderWaveformPng([0.25, 0.5, 1], { width: 30, height: 40 }));
    expect([columnHeight(ramp, 5), columnHeight(ramp, 15), columnHeight(ramp, 25)]).toEqual([10, 20, 40]);
  });

  test("more peaks than pixels: a column keeps the largest peak it covers (a click is not lost)", () => {
    const peaks = new Array(1000).fill(0.1);
    peaks[537] = 1;
    const img = ffmpegDecode(renderWaveformPng(peaks, { width: 100, height: 20 }));
    const heights = Array.from({ length: 100 }, (_, x) => columnHeight(img, x));
    expect(heights[53]).toBe(20);
    expect(heights.filter((h) => h === 20)).toHaveLength(1);
    expect(Math.abs(heights[0]! - 2)).toBeLessThan(0.01);
  });

  test("bad values draw nothing rather than garbage; bad options are refused", () => {
    const img = ffmpegDecode(renderWaveformPng([Number.NaN, -1, Infinity, 2], { width: 4, height: 10 }));
    expect([0, 1, 2, 3].map((x) => columnHeight(img, x))).toEqual([0, 0, 0, 10]);
    expect(ffmpegDecode(renderWaveformPng([], { width: 4, height: 4 })).rgba.every((b) => b === 0)).toBe(true);
    expect(() => renderWaveformPng([0.5], { color: 'red"/><script>' })).toThrow(RangeError);
    expect(() => renderWaveformPng([0.5], { width: 0 })).toThrow(RangeError);
    expect(() => encodePng(2, 2, new Uint8Array(15))).toThrow(RangeError);
  });
});

// The waveform as a PNG, for the plugin (docs/plugin-contract.md "Posts"): its waveform view decodes `waveform_url`
// with JUCE's image loaders (PNG, JPEG, GIF), not SVG. Drawn from the peaks the pipeline already computed, so no
// extra ffmpeg run.
//
// Why a hand-written encoder: a PNG of one colour over transparency is a signature, an IHDR, zlib-deflated rows
// and an IEND; node:zlib does the deflate and Bun.hash.crc32 the chunk checksums, so the whole format is ~30 lines.
// An image package (sharp, pngjs, canvas) would add a native or large dependency for that, and drawing bars needs
// no graphics library.
import { deflateSync } from "node:zlib";

export interface WaveformPngOptions {
  /** Pixels. The plugin's card draws the waveform in a box about 900×105 (PostCard::getWaveformBounds at its
   *  1400 px window); the default is twice that for HiDPI screens, and the view only ever scales it down. */
  width: number;
  height: number;
  /** Bar colour as #rrggbb (the plugin's waveform colour, SidechainColors::waveform). Background: transparent. */
  color: string;
}

export const DEFAULT_PNG_OPTIONS: Readonly<WaveformPngOptions> = Object.freeze({ width: 1800, height: 210, color: "#b4e4ff" });

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, Bun.hash.crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A PNG (8-bit RGBA, no interlace) from `rgba`, row by row, width × height × 4 bytes. */
export function encodePng(width: number, height: number, rgba: Uint8Array): Uint8Array {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new RangeError(`PNG size ${width}×${height}`);
  if (rgba.length !== width * height * 4) throw new RangeError(`PNG pixels: ${rgba.length} bytes for ${width}×${height}`);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 6, 0, 0, 0], 8); // bit depth 8, colour type 6 (RGBA), deflate, adaptive filtering, no interlace
  // Each row starts with its filter type; 0 (none) suits flat colour and transparency, which deflate packs well.
  const stride = width * 4;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(rgba.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const parts = [SIGNATURE, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw, { level: 6 })), chunk("IEND", new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), (at += p.length);
  return out;
}

/**
 * One column per pixel, mirrored around the middle: each column takes the largest peak of the peaks it covers
 * (several peaks per column when there are more peaks than pixels, the nearest one otherwise), and its half-height
 * is that peak times half the image. Edge pixels get a partial alpha (smooth edges once scaled down). Silence is
 * left empty: the plugin paints its own background behind the image.
 */
export function renderWaveformPng(peaks: readonly number[], options: Partial<WaveformPngOptions> = {}): Uint8Array {
  const o = { ...DEFAULT_PNG_OPTIONS, ...options };
  const m = /^#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})$/.exec(o.color);
  if (!m) throw new RangeError(`waveform colour ${JSON.stringify(o.color)} is not #rrggbb`);
  const [r, g, b] = [m[1]!, m[2]!, m[3]!].map((h) => parseInt(h, 16)) as [number, number, number];
  const { width, height } = o;
  const rgba = new Uint8Array(width * height * 4);
  const n = peaks.length;
  const mid = height / 2;
  for (let x = 0; x < width && n > 0; x++) {
    const from = Math.floor((x * n) / width);
    const to = Math.max(from + 1, Math.floor(((x + 1) * n) / width));
    let p = 0;
    for (let i = from; i < to && i < n; i++) {
      const v = peaks[i]!;
      if (Number.isFinite(v) && v > p) p = v;
    }
    const half = Math.min(1, p) * mid;
    if (half <= 0) continue;
    // Rows whose pixel band [y, y+1) overlaps [mid − half, mid + half], with alpha = the covered fraction.
    const top = mid - half,
      bottom = mid + half;
    for (let y = Math.max(0, Math.floor(top)); y < Math.min(height, Math.ceil(bottom)); y++) {
      const cover = Math.min(y + 1, bottom) - Math.max(y, top);
      if (cover <= 0) continue;
      const at = (y * width + x) * 4;
      rgba[at] = r;
      rgba[at + 1] = g;
      rgba[at + 2] = b;
      rgba[at + 3] = Math.round(255 * Math.min(1, cover));
    }
  }
  return encodePng(width, height, rgba);
}

// Test support: hostile and tagged pictures built byte by byte (valid files, CRCs included), for the avatar checks.
//   - pngBomb: a real PNG of a huge canvas that compresses to a few KB (1-bit grey rows of zeros);
//   - gifBomb: a 10×10 GIF whose one frame declares 60000×60000;
//   - apng: a PNG whose APNG frame control (fcTL) declares another size than IHDR;
//   - withExif: a JPEG with an APP1 EXIF block holding an orientation and a GPS position.
// And pictures we draw (waveform PNGs, share cards) decoded by a real ffmpeg, independent of the code that made them:
//   - ffmpegDecode, pixel.
import { expect } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { bins } from "./audio.ts";

const enc = new TextEncoder();
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), (at += p.length);
  return out;
};
const u32be = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
const u16le = (n: number) => new Uint8Array([n & 255, n >>> 8]);
const u16be = (n: number) => new Uint8Array([n >>> 8, n & 255]);
const u32le = (n: number) => u32be(n).reverse();

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const body = concat(enc.encode(type), data);
  return concat(u32be(data.length), body, u32be(Bun.hash.crc32(body)));
}

/** A valid PNG of `width`×`height` 1-bit grey pixels, all black: a few KB for 8192×8192. */
export function pngBomb(width: number, height: number, extra: Uint8Array[] = []): Uint8Array {
  const ihdr = concat(u32be(width), u32be(height), new Uint8Array([1, 0, 0, 0, 0])); // 1 bit, greyscale
  const rows = new Uint8Array(height * (1 + Math.ceil(width / 8))); // filter byte 0 + zero pixels, each row
  return concat(
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    ...extra,
    pngChunk("IDAT", deflateSync(rows, { level: 9 })),
    pngChunk("IEND", new Uint8Array(0)),
  );
}

/** An APNG of `width`×`height` whose one frame control chunk declares `frame` (width, height). */
export function apng(width: number, height: number, frame: [number, number]): Uint8Array {
  const actl = pngChunk("acTL", concat(u32be(1), u32be(0)));
  const fctl = pngChunk("fcTL", concat(u32be(0), u32be(frame[0]), u32be(frame[1]), u32be(0), u32be(0), u16be(1), u16be(10), new Uint8Array([0, 0])));
  return pngBomb(width, height, [actl, fctl]);
}

/** A GIF with a 10×10 logical screen and one frame that declares `width`×`height` (LZW data: clear, end). */
export function gifBomb(width = 60000, height = 60000): Uint8Array {
  return concat(
    enc.encode("GIF89a"),
    u16le(10),
    u16le(10),
    new Uint8Array([0x80, 0, 0]),
    new Uint8Array([0, 0, 0, 255, 255, 255]),
    new Uint8Array([0x2c]),
    u16le(0),
    u16le(0),
    u16le(width),
    u16le(height),
    new Uint8Array([0]),
    new Uint8Array([2, 2, 0x4c, 0x01, 0]),
    new Uint8Array([0x3b]),
  );
}

/** Where the GPS position in withExif() can be recognised: the degrees of its latitude, as EXIF rationals. */
export const GPS_LATITUDE = concat(u32le(48), u32le(1), u32le(51), u32le(1), u32le(2964), u32le(100));

/**
 * `jpeg` with an EXIF APP1 segment right after SOI: IFD0 holds Orientation (`orientation`) and a pointer to a GPS
 * IFD with latitude N 48°51'29.64" and longitude E 2°17'40.2" (little-endian TIFF).
 */
export function withExif(jpeg: Uint8Array, orientation = 1): Uint8Array {
  const entry = (tag: number, type: number, count: number, value: Uint8Array) => concat(u16le(tag), u16le(type), u32le(count), value);
  // Layout: TIFF header (8), IFD0 at 8 (2 + 2×12 + 4 = 30), GPS IFD at 38 (2 + 4×12 + 4 = 54), rationals at 92.
  const ifd0 = concat(u16le(2), entry(0x0112, 3, 1, concat(u16le(orientation), u16le(0))), entry(0x8825, 4, 1, u32le(38)), u32le(0));
  const longitude = concat(u32le(2), u32le(1), u32le(17), u32le(1), u32le(4020), u32le(100));
  const gps = concat(
    u16le(4),
    entry(0x0001, 2, 2, enc.encode("N\0\0\0")),
    entry(0x0002, 5, 3, u32le(92)),
    entry(0x0003, 2, 2, enc.encode("E\0\0\0")),
    entry(0x0004, 5, 3, u32le(92 + 24)),
    u32le(0),
  );
  const tiff = concat(enc.encode("II*\0"), u32le(8), ifd0, gps, GPS_LATITUDE, longitude);
  const app1 = concat(enc.encode("Exif\0\0"), tiff);
  return concat(jpeg.subarray(0, 2), new Uint8Array([0xff, 0xe1]), u16be(app1.length + 2), app1, jpeg.subarray(2));
}

/** True when `haystack` contains `needle` anywhere. */
export function contains(haystack: Uint8Array, needle: Uint8Array | string): boolean {
  const n = typeof needle === "string" ? enc.encode(needle) : needle;
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(Buffer.from(n)) >= 0;
}

export type Decoded = { width: number; height: number; rgba: Uint8Array };

/** Decodes a PNG with ffmpeg's own decoder into RGBA pixels. */
export function ffmpegDecode(png: Uint8Array): Decoded {
  const dir = mkdtempSync(join(tmpdir(), "sc-png-"));
  try {
    const path = join(dir, "w.png");
    writeFileSync(path, png);
    const probe = Bun.spawnSync([bins.ffprobe, "-v", "error", "-show_entries", "stream=width,height,codec_name", "-of", "json", path]);
    const stream = JSON.parse(probe.stdout.toString()).streams[0];
    expect(stream.codec_name).toBe("png");
    const p = Bun.spawnSync([bins.ffmpeg, "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgba", "-"]);
    expect(p.exitCode).toBe(0);
    return { width: stream.width, height: stream.height, rgba: new Uint8Array(p.stdout) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The [r, g, b, a] of one pixel. */
export const pixel = (img: Decoded, x: number, y: number) => [...img.rgba.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4)];

// Image headers read without decoding: the type by magic number, the canvas and every frame's declared size,
// whether there may be transparency, and a JPEG's EXIF orientation. Pure functions on bytes; the avatar checks
// (avatar.ts) and the check of our own encoder's output (avatar-encode.ts) use them.

export type ImageType = "jpg" | "png" | "webp" | "gif";
/** A frame's rectangle on the canvas (x and y are 0 for single-frame formats). */
export type Frame = { x: number; y: number; width: number; height: number };
export type ImageHeader = {
  /** The canvas (PNG IHDR, GIF logical screen, WebP canvas, JPEG frame). */
  width: number;
  height: number;
  /** Every frame the file declares besides the canvas (APNG fcTL, GIF image descriptors, WebP ANMF, JPEG SOF/DHP). */
  frames: Frame[];
  /** The picture may have transparent pixels (PNG alpha or tRNS, GIF transparent colour, WebP alpha). */
  alpha: boolean;
  /** EXIF orientation of a JPEG (1 to 8; 1 when absent). */
  orientation: number;
};
export type ImageInfo = { type: ImageType } & ImageHeader;

const ascii = (b: Uint8Array, at: number, s: string) => s.split("").every((c, i) => b[at + i] === c.charCodeAt(0));
const be16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const le16 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const le24 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
const be32 = (b: Uint8Array, at: number) => ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
const le32 = (b: Uint8Array, at: number) => le24(b, at) + b[at + 3]! * 2 ** 24;

/** The image type by magic number, or null. */
export function sniffImageType(b: Uint8Array): ImageType | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpg";
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, "PNG\r\n\x1a\n")) return "png";
  if (b.length >= 6 && (ascii(b, 0, "GIF87a") || ascii(b, 0, "GIF89a"))) return "gif";
  if (b.length >= 12 && ascii(b, 0, "RIFF") && ascii(b, 8, "WEBP")) return "webp";
  return null;
}

/** Width and height of the canvas from the image header, or null when the header is not there (truncated or corrupt). */
export function imageSize(b: Uint8Array, type: ImageType): { width: number; height: number } | null {
  const h = imageHeader(b, type);
  return h ? { width: h.width, height: h.height } : null;
}

/** Everything the checks need from the headers, without decoding; null when the canvas size cannot be read. */
export function imageHeader(b: Uint8Array, type: ImageType): ImageHeader | null {
  const h = { png: pngHeader, gif: gifHeader, webp: webpHeader, jpg: jpegHeader }[type](b);
  return h && h.width > 0 && h.height > 0 ? h : null;
}

const header = (width: number, height: number): ImageHeader => ({ width, height, frames: [], alpha: false, orientation: 1 });

/** PNG: IHDR, then every chunk up to IEND (APNG frames are fcTL chunks; tRNS makes a palette transparent). */
function pngHeader(b: Uint8Array): ImageHeader | null {
  if (b.length < 33 || !ascii(b, 12, "IHDR")) return null;
  const h = header(be32(b, 16), be32(b, 20));
  const colorType = b[25]!;
  h.alpha = colorType === 4 || colorType === 6;
  for (let at = 33; at + 12 <= b.length; ) {
    const length = be32(b, at);
    const data = at + 8;
    if (ascii(b, at + 4, "fcTL") && length >= 26 && data + 20 <= b.length) {
      h.frames.push({ width: be32(b, data + 4), height: be32(b, data + 8), x: be32(b, data + 12), y: be32(b, data + 16) });
    } else if (ascii(b, at + 4, "tRNS")) {
      h.alpha = true;
    } else if (ascii(b, at + 4, "IEND")) {
      break;
    }
    at = data + length + 4;
  }
  return h;
}

/** GIF: the logical screen, then every image descriptor (a frame may declare any size, whatever the screen). */
function gifHeader(b: Uint8Array): ImageHeader | null {
  if (b.length < 13) return null;
  const h = header(le16(b, 6), le16(b, 8));
  const table = (packed: number) => (packed & 0x80 ? 3 * 2 ** ((packed & 7) + 1) : 0);
  /** Past a run of data sub-blocks (each led by its length, ended by a zero). */
  const skipBlocks = (at: number) => {
    while (at < b.length && b[at] !== 0) at += b[at]! + 1;
    return at + 1;
  };
  let at = 13 + table(b[10]!);
  while (at < b.length) {
    const kind = b[at]!;
    if (kind === 0x2c && at + 10 <= b.length) {
      h.frames.push({ x: le16(b, at + 1), y: le16(b, at + 3), width: le16(b, at + 5), height: le16(b, at + 7) });
      at = skipBlocks(at + 10 + table(b[at + 9]!) + 1); // + the LZW minimum code size
    } else if (kind === 0x21 && at + 2 <= b.length) {
      // A graphic control extension with the transparent-colour flag, before the first frame.
      if (b[at + 1] === 0xf9 && h.frames.length === 0 && b[at + 2] === 4 && b[at + 3]! & 1) h.alpha = true;
      at = skipBlocks(at + 2);
    } else {
      break; // the trailer (0x3b), or bytes that are not GIF: the decoder has the last word
    }
  }
  return h;
}

/** WebP: the first chunk's size (VP8, VP8L or the VP8X canvas), then every chunk (ANMF frames, ALPH). */
function webpHeader(b: Uint8Array): ImageHeader | null {
  let h: ImageHeader | null = null;
  for (let at = 12; at + 8 <= b.length; ) {
    const data = at + 8;
    const length = le32(b, at + 4);
    const frame = webpFrame(b, at);
    if (ascii(b, at, "VP8X") && data + 10 <= b.length) {
      h = header(le24(b, data + 4) + 1, le24(b, data + 7) + 1);
      h.alpha = (b[data]! & 0x10) !== 0;
    } else if (frame) {
      if (!h) h = { ...header(frame.width, frame.height), alpha: frame.alpha };
      else h.frames.push({ x: 0, y: 0, width: frame.width, height: frame.height });
    } else if (ascii(b, at, "ANMF") && h && data + 16 <= b.length) {
      h.frames.push({ x: le24(b, data) * 2, y: le24(b, data + 3) * 2, width: le24(b, data + 6) + 1, height: le24(b, data + 9) + 1 });
      // Its image sub-chunks (ALPH, VP8, VP8L) follow the 16-byte frame header.
      const sub = webpFrame(b, data + 16);
      if (sub) h.frames.push({ x: 0, y: 0, width: sub.width, height: sub.height });
    }
    at = data + length + (length & 1);
  }
  return h;
}

/** A VP8 (lossy) or VP8L (lossless) chunk's own size, or null. */
function webpFrame(b: Uint8Array, at: number): { width: number; height: number; alpha: boolean } | null {
  const data = at + 8;
  if (ascii(b, at, "VP8 ") && data + 10 <= b.length && b[data + 3] === 0x9d && b[data + 4] === 0x01 && b[data + 5] === 0x2a) {
    return { width: le16(b, data + 6) & 0x3fff, height: le16(b, data + 8) & 0x3fff, alpha: false };
  }
  if (ascii(b, at, "VP8L") && data + 5 <= b.length && b[data] === 0x2f) {
    const bits = le32(b, data + 1);
    return { width: (bits & 0x3fff) + 1, height: (Math.floor(bits / 2 ** 14) & 0x3fff) + 1, alpha: Math.floor(bits / 2 ** 28) % 2 === 1 };
  }
  return null;
}

/**
 * JPEG: the marker segments up to the first scan. The start-of-frame (SOF0..SOF15 except DHT, JPG and DAC) gives
 * the size; a hierarchical file's DHP declares one more; APP1 may carry EXIF with the orientation.
 */
function jpegHeader(b: Uint8Array): ImageHeader | null {
  let h: ImageHeader | null = null;
  let orientation = 1;
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) break;
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2; // markers without a length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break; // end of image / start of scan
    const length = be16(b, i + 2);
    if (length < 2) return null;
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if ((isFrame || marker === 0xde) && i + 9 <= b.length) {
      const frame = { x: 0, y: 0, width: be16(b, i + 7), height: be16(b, i + 5) };
      if (!h) h = header(frame.width, frame.height);
      else h.frames.push(frame);
    } else if (marker === 0xe1 && ascii(b, i + 4, "Exif\0\0")) {
      orientation = exifOrientation(b.subarray(i + 10, i + 2 + length)) ?? orientation;
    }
    i += 2 + length;
  }
  if (h) h.orientation = orientation;
  return h;
}

/** The Orientation tag (0x0112) of IFD0 in an EXIF TIFF block, when it holds 1..8. */
function exifOrientation(t: Uint8Array): number | null {
  if (t.length < 8) return null;
  const le = ascii(t, 0, "II");
  if (!le && !ascii(t, 0, "MM")) return null;
  const u16 = (at: number) => (le ? le16(t, at) : be16(t, at));
  const ifd = le ? le32(t, 4) : be32(t, 4);
  if (ifd + 2 > t.length) return null;
  const count = u16(ifd);
  for (let e = ifd + 2; e + 12 <= t.length && e < ifd + 2 + count * 12; e += 12) {
    if (u16(e) === 0x0112) {
      const value = u16(e + 8);
      return value >= 1 && value <= 8 ? value : null;
    }
  }
  return null;
}

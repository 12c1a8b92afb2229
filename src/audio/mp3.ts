// MPEG audio (Layer III) frame headers and the Xing/Info + LAME tag, read from bytes. Sniffing uses the frame
// header to tell an MP3 from random bytes; the pipeline uses inspectMp3() to report the delivered file's bitrate
// and to check that the gapless (LAME) header is there. Layers I and II are not MP3 and are not recognised.

export interface Mp3FrameHeader {
  version: 1 | 2 | 2.5;
  bitrateKbps: number;
  sampleRate: number;
  channels: 1 | 2;
  /** Bytes in this frame, header included. */
  length: number;
  samplesPerFrame: 1152 | 576;
}

const BITRATES_V1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const BITRATES_V2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const RATES_V1 = [44100, 48000, 32000];

/** Parses a Layer III frame header at `at`, or null when the four bytes are not one (free format included). */
export function parseFrameHeader(b: Uint8Array, at = 0): Mp3FrameHeader | null {
  if (at + 4 > b.length) return null;
  const b1 = b[at + 1]!,
    b2 = b[at + 2]!,
    b3 = b[at + 3]!;
  if (b[at] !== 0xff || (b1 & 0xe0) !== 0xe0) return null;
  const versionBits = (b1 >> 3) & 3; // 0: 2.5, 1: reserved, 2: 2, 3: 1
  const layerBits = (b1 >> 1) & 3; // 1: Layer III
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (versionBits === 1 || layerBits !== 1 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const version = versionBits === 3 ? 1 : versionBits === 2 ? 2 : 2.5;
  const bitrateKbps = (version === 1 ? BITRATES_V1 : BITRATES_V2)[bitrateIndex]!;
  const sampleRate = RATES_V1[rateIndex]! / (version === 1 ? 1 : version === 2 ? 2 : 4);
  const padding = (b2 >> 1) & 1;
  const samplesPerFrame = version === 1 ? 1152 : 576;
  const length = Math.floor(((samplesPerFrame / 8) * bitrateKbps * 1000) / sampleRate) + padding;
  return { version, bitrateKbps, sampleRate, channels: b3 >> 6 === 3 ? 1 : 2, length, samplesPerFrame };
}

/** Size of a leading ID3v2 tag (header and footer included), 0 when there is none. */
export function id3v2Size(b: Uint8Array): number {
  if (b.length < 10 || b[0] !== 0x49 || b[1] !== 0x44 || b[2] !== 0x33) return 0; // "ID3"
  const s = ((b[6]! & 0x7f) << 21) | ((b[7]! & 0x7f) << 14) | ((b[8]! & 0x7f) << 7) | (b[9]! & 0x7f);
  return 10 + s + (b[5]! & 0x10 ? 10 : 0);
}

export interface Mp3Info {
  frames: number;
  sampleRate: number;
  channels: 1 | 2;
  /** The bitrate when every frame has the same one (CBR), else null. */
  cbrKbps: number | null;
  /** Xing ("Xing": VBR, "Info": CBR) header in the first frame, with the LAME tag's encoder delay and padding. */
  xing: XingHeader | null;
}

/** The Xing ("Xing": VBR, "Info": CBR) frame: frame and byte counts when flagged, LAME's delay and padding. */
export interface XingHeader {
  tag: "Xing" | "Info";
  frames: number | null;
  /** Bytes of the MPEG stream from this frame to the last, as the encoder counted them (ID3v2 excluded). */
  bytes: number | null;
  encoderDelay: number | null;
  padding: number | null;
}

/** The Xing/Info header of the frame at `at` (the first frame after any ID3v2 tag), or null. */
export function readXingAt(b: Uint8Array, at: number): XingHeader | null {
  const h = parseFrameHeader(b, at);
  return h ? readXing(b, at, h) : null;
}

/** Walks every frame of an MP3 file; null when it does not start with a Layer III frame (after any ID3v2 tag). */
export function inspectMp3(b: Uint8Array): Mp3Info | null {
  let at = id3v2Size(b);
  const first = parseFrameHeader(b, at);
  if (!first) return null;
  const xing = readXing(b, at, first);
  let frames = 0;
  let cbr: number | null = first.bitrateKbps;
  // The Xing/Info frame is a valid silent frame by design, but it carries no audio: skip it in the count.
  if (xing) at += first.length;
  for (;;) {
    const h = parseFrameHeader(b, at);
    if (!h || at + h.length > b.length) break;
    if (h.bitrateKbps !== cbr) cbr = null;
    frames++;
    at += h.length;
  }
  return { frames, sampleRate: first.sampleRate, channels: first.channels, cbrKbps: cbr, xing };
}

function readXing(b: Uint8Array, at: number, h: Mp3FrameHeader): XingHeader | null {
  const sideInfo = h.version === 1 ? (h.channels === 1 ? 17 : 32) : h.channels === 1 ? 9 : 17;
  let p = at + 4 + sideInfo;
  if (p + 8 > b.length) return null;
  const tag = String.fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!);
  if (tag !== "Xing" && tag !== "Info") return null;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const flags = view.getUint32(p + 4);
  p += 8;
  let frames: number | null = null,
    bytes: number | null = null;
  if (flags & 1) (frames = view.getUint32(p)), (p += 4);
  if (flags & 2 && p + 4 <= b.length) (bytes = view.getUint32(p)), (p += 4);
  if (flags & 4) p += 100; // seek table
  if (flags & 8) p += 4; // quality
  // LAME extension: 9 bytes of encoder name, then 12 bytes of fields, then 12 bits of delay and 12 of padding.
  let encoderDelay: number | null = null,
    padding: number | null = null;
  if (p + 24 <= b.length && b[p] !== 0) {
    const d = p + 21;
    encoderDelay = (b[d]! << 4) | (b[d + 1]! >> 4);
    padding = ((b[d + 1]! & 0x0f) << 8) | b[d + 2]!;
  }
  return { tag, frames, bytes, encoderDelay, padding };
}

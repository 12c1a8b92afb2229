// The type of an upload is decided here, by its first bytes; the client's filename and Content-Type are never
// looked at (docs/security.md "Uploads and ffmpeg"). The tag we return is the ffmpeg demuxer name that ffprobe and
// ffmpeg are then forced to use (`-f <tag>`), so a playlist, a concat script or an image can never reach a demuxer
// that opens other files or URLs. ffprobe confirms the codec afterwards (probe.ts).
import { id3v2Size, parseFrameHeader, readXingAt } from "./mp3.ts";

export type AudioFormat = "wav" | "aiff" | "flac" | "mp3" | "ogg";

/** How many leading bytes callers should read for sniffFormat and readPcmLayout. */
export const SNIFF_BYTES = 64 * 1024;

const ascii = (b: Uint8Array, at: number, s: string) => {
  if (at + s.length > b.length) return false;
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return true;
};

/**
 * The container of an audio file from its first bytes (read SNIFF_BYTES), or null when it is none we accept.
 * RF64/BW64, CAF, MP4/M4A, WebM and raw AAC are deliberately not accepted: the plugin sends WAV and the contract
 * lists WAV, AIFF, FLAC, MP3 and Ogg only.
 */
export function sniffFormat(head: Uint8Array): AudioFormat | null {
  if (ascii(head, 0, "RIFF") && ascii(head, 8, "WAVE")) return "wav"; // incl. WAVE_FORMAT_EXTENSIBLE (fmt tag 0xFFFE)
  if (ascii(head, 0, "FORM") && (ascii(head, 8, "AIFF") || ascii(head, 8, "AIFC"))) return "aiff";
  if (ascii(head, 0, "fLaC")) return "flac";
  if (ascii(head, 0, "OggS")) return "ogg"; // Vorbis or Opus inside: ffprobe checks the codec
  const id3 = id3v2Size(head);
  if (id3 > 0) {
    // Taggers put ID3v2 in front of FLAC too. A tag longer than what we read (cover art) is assumed to be MP3;
    // the probe's codec check still refuses anything else.
    if (id3 + 4 > head.length) return "mp3";
    if (ascii(head, id3, "fLaC")) return "flac";
    return looksLikeMpegFrames(head, id3) ? "mp3" : null;
  }
  return looksLikeMpegFrames(head, 0) ? "mp3" : null;
}

/** A valid Layer III frame header at `at`, and a second one right after it when the bytes reach that far. */
function looksLikeMpegFrames(b: Uint8Array, at: number): boolean {
  const h = parseFrameHeader(b, at);
  if (!h) return false;
  const next = at + h.length;
  if (next + 4 > b.length) return true;
  const h2 = parseFrameHeader(b, next);
  return h2 !== null && h2.sampleRate === h.sampleRate;
}

/** What a WAV or AIFF header says about its sample data. */
export interface PcmLayout {
  /** WAV fmt tag (1 PCM, 3 float, 0xFFFE extensible, ...); for AIFF the COMM/AIFC compression type. */
  codec: string;
  /** True for WAVE_FORMAT_EXTENSIBLE; `codec` then holds the sub-format's tag. */
  extensible: boolean;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  /** Bytes of sample data the header declares. */
  declaredBytes: number;
  /** Bytes of sample data the file really holds after the header. */
  availableBytes: number;
}

/**
 * Walks the RIFF/IFF chunks in `head` up to the sample data and compares its declared size with the file size.
 * null when the data chunk is not within `head` (ffprobe then has the last word). ffprobe silently shortens a
 * truncated or lying file to what is there, so this is where "truncated" and "claims 4 GB" are caught.
 */
export function readPcmLayout(head: Uint8Array, fileSize: number, format: "wav" | "aiff"): PcmLayout | null {
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const le = format === "wav";
  const u16 = (at: number) => v.getUint16(at, le);
  const u32 = (at: number) => v.getUint32(at, le);
  const out: PcmLayout = { codec: "", extensible: false, channels: 0, sampleRate: 0, bitsPerSample: 0, declaredBytes: 0, availableBytes: 0 };
  let at = 12;
  while (at + 8 <= head.length) {
    const id = String.fromCharCode(head[at]!, head[at + 1]!, head[at + 2]!, head[at + 3]!);
    const size = u32(at + 4);
    const body = at + 8;
    if (format === "wav" && id === "fmt " && body + 16 <= head.length) {
      let tag = u16(body);
      out.channels = u16(body + 2);
      out.sampleRate = u32(body + 4);
      out.bitsPerSample = u16(body + 14);
      if (tag === 0xfffe && size >= 40 && body + 26 <= head.length) {
        out.extensible = true;
        tag = u16(body + 24); // first two bytes of the sub-format GUID
      }
      out.codec = `0x${tag.toString(16).padStart(4, "0")}`;
    } else if (format === "aiff" && id === "COMM" && body + 18 <= head.length) {
      out.channels = u16(body);
      out.bitsPerSample = u16(body + 6);
      out.sampleRate = readExtended(v, body + 8);
      out.codec = size >= 22 && body + 22 <= head.length ? String.fromCharCode(...head.subarray(body + 18, body + 22)) : "NONE";
    } else if ((format === "wav" && id === "data") || (format === "aiff" && id === "SSND")) {
      const skip = format === "aiff" ? 8 : 0; // SSND starts with offset and block size
      out.declaredBytes = Math.max(0, size - skip);
      out.availableBytes = Math.max(0, fileSize - body - skip);
      return out;
    }
    at = body + size + (size & 1); // chunks are padded to an even size
  }
  return null;
}

/** The 80-bit IEEE extended float AIFF uses for its sample rate. */
function readExtended(v: DataView, at: number): number {
  const exp = v.getUint16(at) & 0x7fff;
  const hi = v.getUint32(at + 2);
  const lo = v.getUint32(at + 6);
  if (exp === 0 && hi === 0 && lo === 0) return 0;
  return (hi * 2 ** 32 + lo) * 2 ** (exp - 16383 - 63);
}

/** Reads up to `length` bytes of the file at `at` (fewer at its end). */
export type ReadAt = (at: number, length: number) => Promise<Uint8Array>;

/**
 * Where a container's own header says its content ends, so that bytes after it can be refused before ffprobe
 * and ffmpeg spend time on them (ffmpeg's WAV reader walks 20 MB of zero bytes as 2.5 million empty chunks:
 * 7 s for ffprobe alone). `end` is null when the header does not say (Ogg; MP3 without a Xing byte count; FLAC
 * without a total sample count).
 */
export type Extent = { end: number | null } | { truncated: { declared: number; available: number } } | { problem: string };

/** Bytes after the declared end that are tolerated: an ID3v1 tag, sector padding, a missing or extra pad byte. */
export const TRAILING_MARGIN = 64 * 1024;
/** Top-level chunks (WAV, AIFF) or metadata blocks (FLAC) a file may have; real files have fewer than 20. */
export const MAX_CHUNKS = 256;

const WINDOW = 4096;

/** A read-through window over the file, so walking many small chunk headers costs a few reads. */
function windowed(read: ReadAt, head: Uint8Array): ReadAt {
  let start = 0;
  let buf = head;
  return async (at, length) => {
    if (at < start || at + length > start + buf.length) {
      buf = await read(at, Math.max(length, WINDOW));
      start = at;
    }
    return buf.subarray(at - start, at - start + length);
  };
}

/** The declared extent of an upload of `format` (see Extent); `head` is its first SNIFF_BYTES. */
export async function declaredExtent(read: ReadAt, size: number, format: AudioFormat, head: Uint8Array): Promise<Extent> {
  const at = windowed(read, head);
  if (format === "wav" || format === "aiff") return chunkExtent(at, size, format);
  if (format === "flac") return { end: await flacEnd(at, id3v2Size(head) + 4) };
  if (format === "mp3") {
    const id3 = id3v2Size(head);
    const bytes = readXingAt(await at(id3, 1024), 0)?.bytes ?? null;
    return { end: bytes ? id3 + bytes : null };
  }
  return { end: null };
}

/** Four printable ASCII characters: what every RIFF/IFF chunk id is (zero bytes are not a chunk). */
const isChunkId = (b: Uint8Array) => b.length >= 4 && b.subarray(0, 4).every((c) => c >= 0x20 && c <= 0x7e);

/**
 * Walks every top-level chunk of a WAV or AIFF file. The audio chunk must be whole (its pad byte may be missing at
 * the very end); other chunks (LIST, id3, bext, JUNK, ...) are accepted before or after it, up to MAX_CHUNKS. The
 * content ends after the last well-formed chunk: what follows (zero bytes, a chunk running past the end of the
 * file) is trailing data. The RIFF/FORM size itself is not trusted: ffmpeg's WAV reader ignores it, so zero bytes
 * inside a RIFF size that covers them cost as much as outside it.
 */
async function chunkExtent(read: ReadAt, size: number, format: "wav" | "aiff"): Promise<Extent> {
  const le = format === "wav";
  const audioId = le ? "data" : "SSND";
  let at = 12;
  let chunks = 0;
  let audio = false;
  while (at + 8 <= size) {
    const h = await read(at, 8);
    if (!isChunkId(h)) break;
    const id = String.fromCharCode(...h.subarray(0, 4));
    const length = new DataView(h.buffer, h.byteOffset, 8).getUint32(4, le);
    const body = at + 8;
    if (id === audioId) {
      // +1: the pad byte of an odd-sized chunk may be missing at the very end of a file.
      if (body + length > size + 1) {
        const skip = le ? 0 : 8; // SSND starts with offset and block size
        return { truncated: { declared: Math.max(0, length - skip), available: Math.max(0, size - body - skip) } };
      }
      audio = true;
    } else if (body + length > size) {
      break; // not a chunk: trailing data from here
    }
    if (++chunks > MAX_CHUNKS) return { problem: `has more than ${MAX_CHUNKS} chunks` };
    let next = body + length + (length & 1); // chunks are padded to an even size...
    // ...though some writers forget the pad byte: take the chunk that starts right after the odd one then.
    if (length & 1 && next + 8 <= size && !isChunkId(await read(next, 4)) && isChunkId(await read(next - 1, 4))) next--;
    at = next;
  }
  if (!audio) return { problem: at + 8 <= size ? `has ${size - at} bytes that are not a chunk before its ${audioId} chunk` : `has no ${audioId} chunk` };
  return { end: Math.min(at, size) };
}

/**
 * The largest size the FLAC frames can take, from STREAMINFO: at most ceil(total / min block size) frames, each at
 * most the max frame size (or, when the encoder left it unknown, a verbatim frame of the max block size). null
 * when STREAMINFO gives no total sample count (a stream), or the metadata cannot be walked.
 */
async function flacEnd(read: ReadAt, first: number): Promise<number | null> {
  let at = first;
  let end: ((audioStart: number) => number) | null = null;
  for (let blocks = 0; blocks < MAX_CHUNKS; blocks++) {
    const h = await read(at, 4);
    if (h.length < 4) return null;
    const length = (h[1]! << 16) | (h[2]! << 8) | h[3]!;
    if ((h[0]! & 0x7f) === 0 && length >= 34) {
      const s = await read(at + 4, 34);
      if (s.length < 34) return null;
      const v = new DataView(s.buffer, s.byteOffset, 34);
      const minBlock = v.getUint16(0),
        maxBlock = v.getUint16(2);
      const maxFrame = (s[7]! << 16) | (s[8]! << 8) | s[9]!;
      const channels = ((s[12]! >> 1) & 7) + 1;
      const bits = (((s[12]! & 1) << 4) | (s[13]! >> 4)) + 1;
      const total = (s[13]! & 0x0f) * 2 ** 32 + v.getUint32(14);
      if (total === 0 || maxBlock < 16) return null;
      // A frame header is at most 16 bytes and its CRC 2; each subframe 1 header byte plus its samples (a side
      // channel has one bit more).
      const frameBound = maxFrame > 0 ? maxFrame : 18 + channels * (1 + Math.ceil((maxBlock * (bits + 1)) / 8));
      const frames = Math.ceil(total / Math.max(16, Math.min(minBlock, maxBlock)));
      end = (audioStart) => audioStart + frames * frameBound;
    }
    at += 4 + length;
    if (h[0]! & 0x80) return end ? end(at) : null;
  }
  return null;
}

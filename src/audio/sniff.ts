// The type of an upload is decided here, by its first bytes; the client's filename and Content-Type are never
// looked at (SECURITY.md "Uploads and ffmpeg"). The tag we return is the ffmpeg demuxer name that ffprobe and
// ffmpeg are then forced to use (`-f <tag>`), so a playlist, a concat script or an image can never reach a demuxer
// that opens other files or URLs. ffprobe confirms the codec afterwards (probe.ts).
import { id3v2Size, parseFrameHeader } from "./mp3.ts";

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

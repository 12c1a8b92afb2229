// Ogg Vorbis pages and the Vorbis identification header, read from bytes. The pipeline uses inspectOggVorbis() on
// the delivered rendition: its codec, rate, channels and nominal bitrate, and the granule position of the last page,
// which is the exact number of samples a Vorbis decoder plays (libvorbisfile, which JUCE's reader is built on,
// stops there). That count equal to the input's is what makes the Ogg gapless.

export interface OggVorbisInfo {
  sampleRate: number;
  channels: number;
  /** The identification header's nominal bitrate (bits/s), or null when the encoder left it unset. */
  nominalBitrate: number | null;
  /** Granule position of the last page: samples per channel the decoder plays. */
  samples: number;
  pages: number;
}

const isCapture = (b: Uint8Array, i: number) => b[i] === 0x4f && b[i + 1] === 0x67 && b[i + 2] === 0x67 && b[i + 3] === 0x53; // "OggS"

/** Null unless the bytes are one logical Ogg stream starting with a Vorbis identification header. */
export function inspectOggVorbis(b: Uint8Array): OggVorbisInfo | null {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = 0,
    pages = 0,
    last = -1,
    serial: number | null = null;
  let ident: Pick<OggVorbisInfo, "sampleRate" | "channels" | "nominalBitrate"> | null = null;
  while (at + 27 <= b.length) {
    if (!isCapture(b, at) || b[at + 4] !== 0) return null;
    const segments = b[at + 26]!;
    if (at + 27 + segments > b.length) return null;
    let body = 0;
    for (let k = 0; k < segments; k++) body += b[at + 27 + k]!;
    const data = at + 27 + segments;
    if (data + body > b.length) return null;
    const pageSerial = view.getUint32(at + 14, true);
    if (serial === null) serial = pageSerial;
    else if (pageSerial !== serial) return null; // chained or multiplexed: not what we write
    if (pages === 0) {
      // Packet 1: 0x01 "vorbis", version 0, channels, rate, max/nominal/min bitrate.
      if (body < 30 || b[data] !== 1 || String.fromCharCode(...b.subarray(data + 1, data + 7)) !== "vorbis") return null;
      if (view.getUint32(data + 7, true) !== 0) return null;
      const nominal = view.getInt32(data + 20, true);
      ident = { channels: b[data + 11]!, sampleRate: view.getUint32(data + 12, true), nominalBitrate: nominal > 0 ? nominal : null };
    }
    const granule = view.getBigInt64(at + 6, true);
    if (granule >= 0n) last = Number(granule);
    pages++;
    at = data + body;
  }
  if (!ident || at !== b.length || last < 0) return null;
  return { ...ident, samples: last, pages };
}

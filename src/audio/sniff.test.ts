// Typing by magic bytes, on headers built here byte by byte (no binary fixtures).
import { describe, expect, test } from "bun:test";
import { id3v2Size, inspectMp3, parseFrameHeader } from "./mp3.ts";
import { declaredExtent, MAX_CHUNKS, readPcmLayout, SNIFF_BYTES, sniffFormat } from "./sniff.ts";

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const u32le = (n: number) => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24];
const u16le = (n: number) => [n & 255, n >>> 8];
const u32be = (n: number) => u32le(n).reverse();
const u16be = (n: number) => u16le(n).reverse();
const bytes = (...parts: (number[] | Uint8Array)[]) => new Uint8Array(parts.flatMap((p) => [...p]));

/** A WAV header with a `dataBytes` data chunk declared; `extensible` writes the 40-byte fmt with a sub-format. */
function wavHeader(dataBytes: number, o: { extensible?: boolean; tag?: number; bits?: number; extra?: number[] } = {}) {
  const bits = o.bits ?? 16;
  const fmt = o.extensible
    ? [
        ...u16le(0xfffe),
        ...u16le(2),
        ...u32le(48000),
        ...u32le(48000 * 2 * (bits / 8)),
        ...u16le(2 * (bits / 8)),
        ...u16le(bits),
        ...u16le(22),
        ...u16le(bits),
        ...u32le(3),
        ...u16le(o.tag ?? 1),
        ...ascii("\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"),
      ]
    : [...u16le(o.tag ?? 1), ...u16le(2), ...u32le(44100), ...u32le(44100 * 4), ...u16le(4), ...u16le(bits)];
  return bytes(ascii("RIFF"), u32le(36 + dataBytes), ascii("WAVE"), ascii("fmt "), u32le(fmt.length), fmt, o.extra ?? [], ascii("data"), u32le(dataBytes));
}

// MPEG-1 Layer III, 128 kbps, 44.1 kHz, stereo: 417-byte frames (418 with the padding bit).
const FRAME_128 = [0xff, 0xfb, 0x90, 0x00];
const frame = (header = FRAME_128, length = 417) => bytes(header, new Array(length - 4).fill(0));

describe("sniffFormat", () => {
  test("WAV, plain and WAVE_FORMAT_EXTENSIBLE", () => {
    expect(sniffFormat(wavHeader(1000))).toBe("wav");
    expect(sniffFormat(wavHeader(1000, { extensible: true, bits: 24 }))).toBe("wav");
  });
  test("AIFF and AIFC", () => {
    expect(sniffFormat(bytes(ascii("FORM"), u32be(100), ascii("AIFF")))).toBe("aiff");
    expect(sniffFormat(bytes(ascii("FORM"), u32be(100), ascii("AIFC")))).toBe("aiff");
    expect(sniffFormat(bytes(ascii("FORM"), u32be(100), ascii("8SVX")))).toBeNull();
  });
  test("FLAC, with or without an ID3 tag in front", () => {
    expect(sniffFormat(bytes(ascii("fLaC"), [0, 0, 0, 34]))).toBe("flac");
    expect(sniffFormat(bytes(ascii("ID3"), [4, 0, 0, 0, 0, 0, 4], [1, 2, 3, 4], ascii("fLaC")))).toBe("flac");
  });
  test("Ogg", () => {
    expect(sniffFormat(bytes(ascii("OggS"), [0, 2]))).toBe("ogg");
  });
  test("MP3: bare frames, or after an ID3v2 tag", () => {
    expect(sniffFormat(bytes(frame(), frame()))).toBe("mp3");
    expect(sniffFormat(bytes(ascii("ID3"), [4, 0, 0, 0, 0, 0, 2], [0, 0], frame(), frame()))).toBe("mp3");
    // A tag longer than what was read (cover art): taken as MP3, ffprobe checks the codec.
    expect(sniffFormat(bytes(ascii("ID3"), [4, 0, 0, 0, 0x7f, 0, 0], new Array(100).fill(0)))).toBe("mp3");
    // One frame header with nothing after it yet (a short read) is enough.
    expect(sniffFormat(bytes(FRAME_128, [0, 0]))).toBe("mp3");
  });
  test("a frame sync followed by garbage, Layer I/II, ADTS AAC, free format: not MP3", () => {
    expect(sniffFormat(bytes(frame(), [1, 2, 3, 4, 5]))).toBeNull();
    expect(sniffFormat(bytes([0xff, 0xfd, 0x90, 0x00], new Array(600).fill(0)))).toBeNull(); // Layer II
    expect(sniffFormat(bytes([0xff, 0xf1, 0x50, 0x80], new Array(600).fill(0)))).toBeNull(); // ADTS
    expect(sniffFormat(bytes([0xff, 0xfb, 0x00, 0x00], new Array(600).fill(0)))).toBeNull(); // free format
    expect(sniffFormat(bytes(ascii("ID3"), [4, 0, 0, 0, 0, 0, 2], [0, 0], ascii("ffconcat version 1.0\n")))).toBeNull();
  });
  test("everything else", () => {
    expect(sniffFormat(new Uint8Array(0))).toBeNull();
    expect(sniffFormat(bytes([0x89], ascii("PNG\r\n\x1a\n")))).toBeNull();
    expect(sniffFormat(bytes(ascii("#EXTM3U\n#EXTINF:10,\nhttp://example.com/a.ts\n")))).toBeNull();
    expect(sniffFormat(bytes(ascii("ffconcat version 1.0\nfile 'a.wav'\n")))).toBeNull();
    expect(sniffFormat(bytes(ascii("RF64"), u32le(0xffffffff), ascii("WAVE")))).toBeNull();
    expect(sniffFormat(bytes(ascii("RIFF"), u32le(4), ascii("AVI ")))).toBeNull();
    expect(sniffFormat(bytes([0, 0, 0, 0x20], ascii("ftypM4A ")))).toBeNull();
    expect(sniffFormat(bytes(ascii("RIF")))).toBeNull();
  });
});

describe("readPcmLayout", () => {
  test("a complete WAV declares what it holds", () => {
    const head = wavHeader(400);
    const layout = readPcmLayout(head, head.length + 400, "wav")!;
    expect(layout).toEqual({ codec: "0x0001", extensible: false, channels: 2, sampleRate: 44100, bitsPerSample: 16, declaredBytes: 400, availableBytes: 400 });
  });
  test("a truncated WAV and one claiming 4 GB hold less than they declare", () => {
    const head = wavHeader(400);
    expect(readPcmLayout(head, head.length + 100, "wav")).toMatchObject({ declaredBytes: 400, availableBytes: 100 });
    const huge = wavHeader(0xfffffff0);
    expect(readPcmLayout(huge, huge.length + 1000, "wav")).toMatchObject({ declaredBytes: 0xfffffff0, availableBytes: 1000 });
  });
  test("WAVE_FORMAT_EXTENSIBLE reports its sub-format; other chunks before data are skipped (odd sizes padded)", () => {
    const extra = [...ascii("LIST"), ...u32le(3), 1, 2, 3, 0];
    const head = wavHeader(96, { extensible: true, bits: 24, tag: 3, extra });
    expect(readPcmLayout(head, head.length + 96, "wav")).toMatchObject({
      extensible: true,
      codec: "0x0003",
      sampleRate: 48000,
      bitsPerSample: 24,
      declaredBytes: 96,
    });
  });
  test("AIFF: COMM and SSND (whose 8-byte offset/block prefix is not sample data)", () => {
    const rate44100 = [0x40, 0x0e, 0xac, 0x44, 0, 0, 0, 0, 0, 0];
    const head = bytes(
      ascii("FORM"),
      u32be(0),
      ascii("AIFF"),
      ascii("COMM"),
      u32be(18),
      u16be(1),
      u32be(100),
      u16be(16),
      rate44100,
      ascii("SSND"),
      u32be(8 + 200),
      u32be(0),
      u32be(0),
    );
    expect(readPcmLayout(head, head.length + 200, "aiff")).toMatchObject({
      codec: "NONE",
      channels: 1,
      sampleRate: 44100,
      bitsPerSample: 16,
      declaredBytes: 200,
      availableBytes: 200,
    });
    expect(readPcmLayout(head, head.length + 50, "aiff")).toMatchObject({ declaredBytes: 200, availableBytes: 50 });
  });
  test("no data chunk within what was read: null (ffprobe decides)", () => {
    expect(readPcmLayout(wavHeader(10).slice(0, 30), 1000, "wav")).toBeNull();
    const bigChunk = bytes(ascii("RIFF"), u32le(0), ascii("WAVE"), ascii("JUNK"), u32le(1 << 20));
    expect(readPcmLayout(bigChunk, 2 << 20, "wav")).toBeNull();
  });
});

describe("MP3 frames and the gapless header", () => {
  test("frame headers", () => {
    expect(parseFrameHeader(new Uint8Array(FRAME_128))).toEqual({
      version: 1,
      bitrateKbps: 128,
      sampleRate: 44100,
      channels: 2,
      length: 417,
      samplesPerFrame: 1152,
    });
    expect(parseFrameHeader(new Uint8Array([0xff, 0xfb, 0x92, 0xc0]))).toMatchObject({ length: 418, channels: 1 });
    expect(parseFrameHeader(new Uint8Array([0xff, 0xf3, 0x80, 0xc0]))).toMatchObject({
      version: 2,
      bitrateKbps: 64,
      sampleRate: 22050,
      samplesPerFrame: 576,
      length: 208,
    });
    expect(parseFrameHeader(new Uint8Array([0xff, 0xe3, 0x10, 0xc0]))).toMatchObject({ version: 2.5, bitrateKbps: 8, sampleRate: 11025 });
    expect(parseFrameHeader(new Uint8Array([0xff, 0xfb, 0x9c, 0]))).toBeNull(); // reserved rate
    expect(parseFrameHeader(new Uint8Array([0xff, 0xfb]))).toBeNull();
  });

  test("ID3v2 size, with and without footer", () => {
    expect(id3v2Size(bytes(ascii("ID3"), [4, 0, 0, 0, 0, 1, 0]))).toBe(10 + 128);
    expect(id3v2Size(bytes(ascii("ID3"), [4, 0, 0x10, 0, 0, 0, 5]))).toBe(10 + 5 + 10);
    expect(id3v2Size(bytes(ascii("ID4"), [4, 0, 0, 0, 0, 1, 0]))).toBe(0);
  });

  test("inspectMp3 reads the Info frame, LAME's delay/padding, and checks every frame's bitrate", () => {
    const info = new Array(413).fill(0);
    const at = 32; // side information of an MPEG-1 stereo frame
    info.splice(at, 16, ...ascii("Info"), ...u32be(0x0f), ...u32be(3), ...u32be(417 * 4));
    const lame = at + 8 + 4 + 4 + 100 + 4;
    info.splice(lame, 9, ...ascii("LAME3.100"));
    info.splice(lame + 21, 3, 0x24, 0x04, 0x80); // delay 576, padding 1152
    const file = bytes(FRAME_128, info, frame(), frame(), frame());
    expect(inspectMp3(file)).toEqual({
      frames: 3,
      sampleRate: 44100,
      channels: 2,
      cbrKbps: 128,
      xing: { tag: "Info", frames: 3, bytes: 417 * 4, encoderDelay: 576, padding: 1152 },
    });
    // A frame at another bitrate: not CBR. No Info frame: xing null.
    const vbr = bytes(frame(), frame([0xff, 0xfb, 0xa0, 0x00], 522));
    expect(inspectMp3(vbr)).toMatchObject({ frames: 2, cbrKbps: null, xing: null });
    expect(inspectMp3(bytes(ascii("OggS")))).toBeNull();
  });
});

describe("declaredExtent: where the header says the content ends", () => {
  const reader = (b: Uint8Array) => async (at: number, length: number) => b.subarray(at, at + length);
  const extent = (b: Uint8Array, format: Parameters<typeof declaredExtent>[2]) => declaredExtent(reader(b), b.length, format, b.subarray(0, SNIFF_BYTES));
  const chunk = (id: string, body: number[], pad = true) => [...ascii(id), ...u32le(body.length), ...body, ...(pad && body.length & 1 ? [0] : [])];
  /** A WAV of `data` bytes with `before` and `after` extra bytes around the data chunk (RIFF size covering all). */
  function wav(data: number, o: { before?: number[]; after?: number[] } = {}) {
    const fmt = chunk("fmt ", [...u16le(1), ...u16le(2), ...u32le(44100), ...u32le(44100 * 4), ...u16le(4), ...u16le(16)]);
    const body = [...ascii("WAVE"), ...fmt, ...(o.before ?? []), ...chunk("data", new Array(data).fill(1)), ...(o.after ?? [])];
    return bytes(ascii("RIFF"), u32le(body.length), body);
  }

  test("a plain WAV ends with its data chunk; LIST and id3 chunks before or after data are part of it", async () => {
    expect(await extent(wav(400), "wav")).toEqual({ end: wav(400).length });
    const tagged = wav(401, { before: chunk("LIST", [1, 2, 3]), after: [...chunk("LIST", new Array(30).fill(65)), ...chunk("id3 ", new Array(5000).fill(7))] });
    expect(await extent(tagged, "wav")).toEqual({ end: tagged.length });
  });

  test("zero bytes after the data chunk are trailing data, whatever the RIFF size says", async () => {
    const plain = wav(400);
    const tail = bytes(plain, new Array(100_000).fill(0));
    new DataView(tail.buffer).setUint32(4, tail.length - 8, true); // a RIFF size that covers the zeros
    expect(await extent(tail, "wav")).toEqual({ end: plain.length });
    // Random bytes, and a "chunk" running past the end of the file, are trailing data too.
    const overrun = bytes(plain, ascii("LIST"), u32le(1 << 20), new Array(100).fill(9));
    expect(await extent(overrun, "wav")).toEqual({ end: plain.length });
  });

  test("zero bytes before the data chunk, too many chunks, no data chunk, a truncated data chunk", async () => {
    expect(await extent(wav(400, { before: new Array(4096).fill(0) }), "wav")).toEqual({
      problem: expect.stringContaining("not a chunk before its data chunk"),
    });
    const many = new Array(MAX_CHUNKS).fill(chunk("JUNK", [])).flat();
    expect(await extent(wav(400, { before: many }), "wav")).toEqual({ problem: `has more than ${MAX_CHUNKS} chunks` });
    expect(await extent(wav(400, { before: many.slice(2 * 8) }), "wav")).toHaveProperty("end"); // fmt, data and 254 others: the most there may be
    expect(await extent(bytes(ascii("RIFF"), u32le(4), ascii("WAVE")), "wav")).toEqual({ problem: "has no data chunk" });
    const cut = wav(400).subarray(0, 300);
    expect(await extent(cut, "wav")).toMatchObject({ truncated: { declared: 400 } });
    // The pad byte of an odd data chunk missing at the very end of the file is fine.
    const odd = wav(401);
    expect(await extent(odd.subarray(0, odd.length - 1), "wav")).toEqual({ end: odd.length - 1 });
  });

  test("a writer that forgets the pad byte after an odd chunk", async () => {
    const b = wav(400, { before: chunk("LIST", [1, 2, 3], false) });
    expect(await extent(b, "wav")).toEqual({ end: b.length });
  });

  test("AIFF: the same walk, big-endian, with the SSND prefix", async () => {
    const rate44100 = [0x40, 0x0e, 0xac, 0x44, 0, 0, 0, 0, 0, 0];
    const aiff = bytes(
      ascii("FORM"),
      u32be(0),
      ascii("AIFF"),
      ascii("COMM"),
      u32be(18),
      u16be(1),
      u32be(100),
      u16be(16),
      rate44100,
      ascii("SSND"),
      u32be(8 + 200),
      u32be(0),
      u32be(0),
      new Array(200).fill(3),
    );
    expect(await extent(aiff, "aiff")).toEqual({ end: aiff.length });
    expect(await extent(bytes(aiff, new Array(1000).fill(0)), "aiff")).toEqual({ end: aiff.length });
    expect(await extent(aiff.subarray(0, aiff.length - 50), "aiff")).toEqual({ truncated: { declared: 200, available: 150 } });
  });

  /** fLaC, a STREAMINFO block (last), then `frames` bytes. */
  function flac(o: { minBlock?: number; maxBlock?: number; maxFrame?: number; total: number; channels?: number; bits?: number }, frames: number) {
    const channels = o.channels ?? 2,
      bits = o.bits ?? 16;
    const info = [
      ...u16be(o.minBlock ?? 4096),
      ...u16be(o.maxBlock ?? 4096),
      0,
      0,
      14,
      (o.maxFrame ?? 0) >> 16,
      ((o.maxFrame ?? 0) >> 8) & 255,
      (o.maxFrame ?? 0) & 255,
      // 20 bits rate (44100), 3 bits channels - 1, 5 bits bits - 1, 36 bits total samples
      0x0a,
      0xc4,
      0x40 | ((channels - 1) << 1) | ((bits - 1) >> 4),
      (((bits - 1) & 15) << 4) | Math.floor(o.total / 2 ** 32),
      ...u32be(o.total % 2 ** 32),
      ...new Array(16).fill(0),
    ];
    return bytes(ascii("fLaC"), [0x80, 0, 0, 34], info, new Array(frames).fill(0));
  }

  test("FLAC: frames times the max frame size from STREAMINFO, or a verbatim frame when it is unknown", async () => {
    // 10 frames of 4096 samples (the last one short) of at most 5000 bytes each.
    expect(await extent(flac({ total: 40_000, maxFrame: 5000 }, 100), "flac")).toEqual({ end: 42 + 10 * 5000 });
    // Unknown max frame size: 18 bytes of header and CRC, then per channel 1 + 4096 × 17 bits.
    expect(await extent(flac({ total: 4096 }, 100), "flac")).toEqual({ end: 42 + 18 + 2 * (1 + 8704) });
    // No total sample count (a stream): the header does not say.
    expect(await extent(flac({ total: 0 }, 100), "flac")).toEqual({ end: null });
    // Metadata that runs past the end of the file: left to ffprobe.
    expect(await extent(bytes(ascii("fLaC"), [0x04, 0, 1, 0]), "flac")).toEqual({ end: null });
  });

  test("MP3: the Xing byte count after any ID3v2 tag; Ogg and MP3 without one do not say", async () => {
    const info = new Array(413).fill(0);
    info.splice(32, 16, ...ascii("Info"), ...u32be(0x03), ...u32be(3), ...u32be(417 * 4));
    const mp3 = bytes(ascii("ID3"), [4, 0, 0, 0, 0, 0, 2], [0, 0], FRAME_128, info, frame(), frame(), frame());
    expect(await extent(mp3, "mp3")).toEqual({ end: 12 + 417 * 4 });
    expect(await extent(bytes(frame(), frame()), "mp3")).toEqual({ end: null });
    expect(await extent(bytes(ascii("OggS"), [0, 2]), "ogg")).toEqual({ end: null });
  });
});

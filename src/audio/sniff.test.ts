// Typing by magic bytes, on headers built here byte by byte (no binary fixtures).
import { describe, expect, test } from "bun:test";
import { id3v2Size, inspectMp3, parseFrameHeader } from "./mp3.ts";
import { readPcmLayout, sniffFormat } from "./sniff.ts";

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
    ? [...u16le(0xfffe), ...u16le(2), ...u32le(48000), ...u32le(48000 * 2 * (bits / 8)), ...u16le(2 * (bits / 8)), ...u16le(bits),
       ...u16le(22), ...u16le(bits), ...u32le(3), ...u16le(o.tag ?? 1), ...ascii("\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")]
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
    expect(readPcmLayout(head, head.length + 96, "wav")).toMatchObject({ extensible: true, codec: "0x0003", sampleRate: 48000, bitsPerSample: 24, declaredBytes: 96 });
  });
  test("AIFF: COMM and SSND (whose 8-byte offset/block prefix is not sample data)", () => {
    const rate44100 = [0x40, 0x0e, 0xac, 0x44, 0, 0, 0, 0, 0, 0];
    const head = bytes(ascii("FORM"), u32be(0), ascii("AIFF"), ascii("COMM"), u32be(18), u16be(1), u32be(100), u16be(16), rate44100, ascii("SSND"), u32be(8 + 200), u32be(0), u32be(0));
    expect(readPcmLayout(head, head.length + 200, "aiff")).toMatchObject({ codec: "NONE", channels: 1, sampleRate: 44100, bitsPerSample: 16, declaredBytes: 200, availableBytes: 200 });
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
    expect(parseFrameHeader(new Uint8Array(FRAME_128))).toEqual({ version: 1, bitrateKbps: 128, sampleRate: 44100, channels: 2, length: 417, samplesPerFrame: 1152 });
    expect(parseFrameHeader(new Uint8Array([0xff, 0xfb, 0x92, 0xc0]))).toMatchObject({ length: 418, channels: 1 });
    expect(parseFrameHeader(new Uint8Array([0xff, 0xf3, 0x80, 0xc0]))).toMatchObject({ version: 2, bitrateKbps: 64, sampleRate: 22050, samplesPerFrame: 576, length: 208 });
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
      frames: 3, sampleRate: 44100, channels: 2, cbrKbps: 128,
      xing: { tag: "Info", frames: 3, encoderDelay: 576, padding: 1152 },
    });
    // A frame at another bitrate: not CBR. No Info frame: xing null.
    const vbr = bytes(frame(), frame([0xff, 0xfb, 0xa0, 0x00], 522));
    expect(inspectMp3(vbr)).toMatchObject({ frames: 2, cbrKbps: null, xing: null });
    expect(inspectMp3(bytes(ascii("OggS")))).toBeNull();
  });
});

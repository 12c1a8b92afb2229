// Profile picture checks: type by magic number and the dimensions of every frame from the headers, on real images
// rendered by ffmpeg and on hand-made files for the cases ffmpeg does not produce (VP8X, progressive JPEG, bombs,
// truncation); then the re-encoding through the real ffmpeg runner (bounded size, no EXIF, upright).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lavfi } from "../../test/support/audio.ts";
import { apng, contains, GPS_LATITUDE, gifBomb, pngBomb, withExif } from "../../test/support/images.ts";
import { createFfmpegRunner } from "../audio/ffmpeg.ts";
import { ApiError } from "../http/errors.ts";
import { AVATAR_OUTPUT_SIDE, avatarArgs, encodeAvatar } from "./avatar-encode.ts";
import { AVATAR_MAX_BYTES, AVATAR_MAX_PIXELS, AVATAR_MAX_SIDE, imageHeader, imageSize, inspectImage, sniffImageType } from "./avatar.ts";

const dir = mkdtempSync(join(tmpdir(), "sc-avatar-"));
const real: Record<string, Uint8Array> = {};
beforeAll(async () => {
  const renders: [string, string, string[]][] = [
    ["jpg", "jpg", []],
    ["png", "png", []],
    ["gif", "gif", []],
    ["webp", "webp", []],
    ["webp-lossless", "webp", ["-lossless", "1"]],
  ];
  renders.push(["png-alpha", "png", ["-vf", "format=rgba,colorchannelmixer=aa=0.5"]], ["big", "png", ["-vf", "scale=1000:600"]]);
  for (const [name, ext, args] of renders) {
    const path = await lavfi(join(dir, `${name}.${ext}`), "color=c=red:s=64x48", ["-frames:v", "1", ...args]);
    real[name] = new Uint8Array(await Bun.file(path).arrayBuffer());
  }
}, 60_000);
const work = join(dir, "work"); // parent of the runner's private temp dirs: must end up empty
const runner = createFfmpegRunner({ tempDir: (mkdirSync(work), work), concurrency: 2 });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (...parts: (number[] | string)[]) => new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...p].map((c) => c.charCodeAt(0)) : p)));

function refusal(b: Uint8Array) {
  try {
    inspectImage(b);
  } catch (err) {
    if (err instanceof ApiError) return { status: err.status, code: err.code };
    throw err;
  }
  return null;
}

describe("inspectImage", () => {
  test("real JPEG, PNG, GIF and WebP (lossy and lossless) images: type and size from the bytes", () => {
    expect(inspectImage(real.jpg!)).toEqual({ type: "jpg", width: 64, height: 48, frames: [], alpha: false, orientation: 1 });
    expect(inspectImage(real.png!)).toEqual({ type: "png", width: 64, height: 48, frames: [], alpha: false, orientation: 1 });
    expect(inspectImage(real.gif!)).toMatchObject({ type: "gif", width: 64, height: 48, frames: [{ x: 0, y: 0, width: 64, height: 48 }], alpha: false });
    expect(inspectImage(real.webp!)).toMatchObject({ type: "webp", width: 64, height: 48, alpha: false });
    expect(inspectImage(real["webp-lossless"]!)).toMatchObject({ type: "webp", width: 64, height: 48 });
    expect(inspectImage(real["png-alpha"]!)).toMatchObject({ type: "png", alpha: true });
  });

  test("an extended WebP (VP8X) and a progressive JPEG (SOF2 after other segments)", () => {
    const vp8x = bytes("RIFF", [0, 0, 0, 0], "WEBPVP8X", [10, 0, 0, 0], [0x10, 0, 0, 0], [199, 0, 0], [99, 0, 0]);
    expect(imageSize(vp8x, "webp")).toEqual({ width: 200, height: 100 });
    const jpeg = bytes([0xff, 0xd8], [0xff, 0xe1, 0, 4, 1, 2], [0xff, 0xff, 0xc2, 0, 11, 8, 0x01, 0x00, 0x02, 0x00, 1, 1, 0x11, 0]);
    expect(imageSize(jpeg, "jpg")).toEqual({ width: 512, height: 256 });
  });

  test("refusals: empty 422, not an image 415, header missing 422, huge dimensions 422, too many bytes 413", () => {
    expect(refusal(new Uint8Array(0))).toEqual({ status: 422, code: "empty_file" });
    expect(refusal(bytes("just some text, named avatar.png"))).toEqual({ status: 415, code: "unsupported_image" });
    expect(refusal(bytes("<svg xmlns='http://www.w3.org/2000/svg'/>"))).toEqual({ status: 415, code: "unsupported_image" });
    expect(refusal(bytes("RIFF", [0, 0, 0, 0], "WAVEfmt "))).toEqual({ status: 415, code: "unsupported_image" });
    expect(refusal(real.png!.slice(0, 16))).toEqual({ status: 422, code: "corrupt_image" });
    expect(refusal(real.jpg!.slice(0, 20))).toEqual({ status: 422, code: "corrupt_image" });
    // A PNG that declares 30000 × 30000 pixels: a decompression bomb for every client that shows it.
    const bomb = real.png!.slice();
    new DataView(bomb.buffer).setUint32(16, 30000);
    new DataView(bomb.buffer).setUint32(20, 30000);
    expect(refusal(bomb)).toEqual({ status: 422, code: "image_too_large" });
    const big = new Uint8Array(AVATAR_MAX_BYTES + 1);
    big.set(real.png!);
    expect(refusal(big)).toEqual({ status: 413, code: "payload_too_large" });
  });

  test("decompression bombs: every frame's declared size is bounded, before anything decodes it", () => {
    // A real 8192×8192 PNG (8 KB on disk, 64 Mpx): within the side bound, over the pixel budget.
    expect(refusal(pngBomb(8192, 8192))).toEqual({ status: 422, code: "image_too_large" });
    expect(refusal(pngBomb(AVATAR_MAX_SIDE + 1, 10))).toEqual({ status: 422, code: "image_too_large" });
    // A 10×10 GIF whose frame declares 60000×60000, and one whose small frame sits far off the screen.
    expect(imageHeader(gifBomb(), "gif")).toMatchObject({ width: 10, height: 10, frames: [{ width: 60000, height: 60000 }] });
    expect(refusal(gifBomb())).toEqual({ status: 422, code: "image_too_large" });
    // An APNG whose frame control chunk declares more than IHDR.
    expect(refusal(apng(64, 48, [9000, 10]))).toEqual({ status: 422, code: "image_too_large" });
    // A WebP animation frame (ANMF) of 9000×9000 on a small canvas.
    const anmf = bytes(
      "RIFF",
      [0, 0, 0, 0],
      "WEBPVP8X",
      [10, 0, 0, 0],
      [0x02, 0, 0, 0],
      [9, 0, 0],
      [9, 0, 0],
      "ANMF",
      [16, 0, 0, 0],
      [0, 0, 0, 0, 0, 0],
      [0x27, 0x23, 0],
      [0x27, 0x23, 0],
      [0, 0, 0, 0],
    );
    expect(imageHeader(anmf, "webp")!.frames).toEqual([{ x: 0, y: 0, width: 9000, height: 9000 }]);
    expect(refusal(anmf)).toEqual({ status: 422, code: "image_too_large" });
    // A hierarchical JPEG's DHP declares another frame.
    const dhp = bytes([0xff, 0xd8], [0xff, 0xc0, 0, 11, 8, 0, 16, 0, 16, 1, 1, 0x11, 0], [0xff, 0xde, 0, 11, 8, 0x7f, 0, 0x7f, 0, 1, 1, 0x11, 0]);
    expect(refusal(dhp)).toEqual({ status: 422, code: "image_too_large" });
    // Within the bounds: a 24 Mpx phone photo's header and a 36 Mpx one pass (nothing is decoded here).
    expect(inspectImage(pngBomb(5712, 4284))).toMatchObject({ width: 5712, height: 4284 });
    expect(inspectImage(pngBomb(7500, 4800))).toMatchObject({ width: 7500 });
    expect(7500 * 4800).toBeLessThanOrEqual(AVATAR_MAX_PIXELS);
  });

  test("transparency and the EXIF orientation are read from the headers", () => {
    expect(imageHeader(withExif(real.jpg!, 6), "jpg")).toMatchObject({ width: 64, height: 48, orientation: 6, alpha: false });
    expect(imageHeader(withExif(real.jpg!, 9), "jpg")!.orientation).toBe(1); // not an orientation
    // A tRNS chunk (a transparent palette entry or grey level) makes a PNG without an alpha channel transparent.
    expect(imageHeader(pngBomb(4, 4), "png")!.alpha).toBe(false);
    expect(imageHeader(pngBomb(4, 4, [new Uint8Array([0, 0, 0, 2, 0x74, 0x52, 0x4e, 0x53, 0, 0, 0, 0, 0, 0])]), "png")!.alpha).toBe(true);
    const gce = bytes("GIF89a", [10, 0, 10, 0, 0, 0, 0], [0x21, 0xf9, 4, 1, 0, 0, 0, 0], [0x2c, 0, 0, 0, 0, 10, 0, 10, 0, 0, 2, 2, 0x4c, 0x01, 0, 0x3b]);
    expect(imageHeader(gce, "gif")).toMatchObject({ alpha: true, frames: [{ width: 10, height: 10 }] });
    const vp8xAlpha = bytes("RIFF", [0, 0, 0, 0], "WEBPVP8X", [10, 0, 0, 0], [0x10, 0, 0, 0], [63, 0, 0], [47, 0, 0]);
    expect(imageHeader(vp8xAlpha, "webp")).toMatchObject({ width: 64, height: 48, alpha: true });
  });

  test("sniffing ignores everything but the leading bytes", () => {
    expect(sniffImageType(bytes([0xff, 0xd8, 0xff, 0xdb]))).toBe("jpg");
    expect(sniffImageType(bytes("GIF87a"))).toBe("gif");
    expect(sniffImageType(bytes("GIF88a"))).toBeNull();
    expect(sniffImageType(bytes([0x89], "PNG"))).toBeNull(); // too short for the full signature
  });
});

describe("encodeAvatar (real ffmpeg through the runner)", () => {
  const size = (b: Uint8Array, type: "jpg" | "png") => imageSize(b, type);

  test("a JPEG with EXIF GPS is stored without any EXIF, turned upright by its orientation", async () => {
    const tagged = withExif(real.jpg!, 6); // 64×48 pixels, "rotate 90° clockwise to view"
    expect(contains(tagged, "Exif") && contains(tagged, GPS_LATITUDE)).toBe(true);
    const out = await encodeAvatar(runner, tagged, inspectImage(tagged));
    expect(out.type).toBe("jpg");
    expect(contains(out.bytes, "Exif")).toBe(false);
    expect(contains(out.bytes, GPS_LATITUDE)).toBe(false);
    expect(contains(out.bytes, new Uint8Array([0xff, 0xe1]))).toBe(false); // no APP1 segment at all
    expect(size(out.bytes, "jpg")).toEqual({ width: 48, height: 64 });
  });

  test("bounded to 512 px on the longer side, aspect kept, never enlarged; PNG with transparency, else JPEG", async () => {
    const big = await encodeAvatar(runner, real.big!, inspectImage(real.big!));
    expect(big.type).toBe("jpg");
    expect(size(big.bytes, "jpg")).toEqual({ width: AVATAR_OUTPUT_SIDE, height: 307 });
    const alpha = await encodeAvatar(runner, real["png-alpha"]!, inspectImage(real["png-alpha"]!));
    expect([alpha.type, sniffImageType(alpha.bytes), size(alpha.bytes, "png")]).toEqual(["png", "png", { width: 64, height: 48 }]);
    for (const name of ["gif", "webp", "webp-lossless", "png"]) {
      const out = await encodeAvatar(runner, real[name]!, inspectImage(real[name]!));
      expect([name, sniffImageType(out.bytes), size(out.bytes, out.type)]).toEqual([name, out.type, { width: 64, height: 48 }]);
    }
    expect(readdirSync(work)).toEqual([]);
  });

  test("a file whose header is fine but whose pixels do not decode is 422 corrupt_image", async () => {
    const broken = real.png!.slice(0, 40); // IHDR, then nothing
    const err = await encodeAvatar(runner, broken, inspectImage(broken)).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect([err.status, err.code]).toEqual([422, "corrupt_image"]);
    expect(readdirSync(work)).toEqual([]);
  });

  test("ffmpeg missing or too slow is a 503, not a refusal of the picture", async () => {
    const missing = createFfmpegRunner({ tempDir: work, ffmpegPath: join(dir, "no-such-ffmpeg") });
    const err = await encodeAvatar(missing, real.png!, inspectImage(real.png!)).catch((e) => e);
    expect([err.status, err.code]).toEqual([503, "image_processing_unavailable"]);
  });

  test("the arguments keep the runner's guards: forced demuxer and decoder, protocol whitelist, file: input, one frame", () => {
    const { args, type } = avatarArgs("/tmp/x/upload", { type: "gif", alpha: false, orientation: 8 });
    expect(type).toBe("jpg");
    const i = args.indexOf("-i");
    expect(args.slice(i - 6, i + 2)).toEqual(["-protocol_whitelist", "file,pipe", "-f", "gif", "-c:v", "gif", "-i", "file:/tmp/x/upload"]);
    expect(args).toContain("-nostdin");
    expect(args.indexOf("-noautorotate")).toBeLessThan(i); // rotated once, by the filter below, whatever the ffmpeg
    expect(args.slice(args.indexOf("-frames:v"), args.indexOf("-frames:v") + 2)).toEqual(["-frames:v", "1"]);
    expect(args[args.indexOf("-vf") + 1]).toStartWith("transpose=cclock,scale=");
    expect(args).toContain("-map_metadata");
  });
});

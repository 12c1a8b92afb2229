// Profile picture checks: type by magic number and dimensions from the header, on real images rendered by ffmpeg
// and on hand-made headers for the cases ffmpeg does not produce (VP8X, progressive JPEG, bombs, truncation).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lavfi } from "../../test/support/audio.ts";
import { ApiError } from "../http/errors.ts";
import { AVATAR_MAX_BYTES, imageSize, inspectImage, sniffImageType } from "./avatar.ts";

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
  for (const [name, ext, args] of renders) {
    const path = await lavfi(join(dir, `${name}.${ext}`), "color=c=red:s=64x48", ["-frames:v", "1", ...args]);
    real[name] = new Uint8Array(await Bun.file(path).arrayBuffer());
  }
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (...parts: (number[] | string)[]) =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...p].map((c) => c.charCodeAt(0)) : p)));

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
    expect(inspectImage(real.jpg!)).toEqual({ type: "jpg", width: 64, height: 48 });
    expect(inspectImage(real.png!)).toEqual({ type: "png", width: 64, height: 48 });
    expect(inspectImage(real.gif!)).toEqual({ type: "gif", width: 64, height: 48 });
    expect(inspectImage(real.webp!)).toEqual({ type: "webp", width: 64, height: 48 });
    expect(inspectImage(real["webp-lossless"]!)).toEqual({ type: "webp", width: 64, height: 48 });
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

  test("sniffing ignores everything but the leading bytes", () => {
    expect(sniffImageType(bytes([0xff, 0xd8, 0xff, 0xdb]))).toBe("jpg");
    expect(sniffImageType(bytes("GIF87a"))).toBe("gif");
    expect(sniffImageType(bytes("GIF88a"))).toBeNull();
    expect(sniffImageType(bytes([0x89], "PNG"))).toBeNull(); // too short for the full signature
  });
});

// Re-encoding of profile pictures through the ffmpeg runner (bounded concurrency, timeout, private temp dir), so
// what is stored and served is a picture we made: one frame, at most AVATAR_OUTPUT_SIDE px per side with the
// aspect ratio kept, PNG when the upload may have transparent pixels and JPEG otherwise, and none of the upload's
// metadata (EXIF and its GPS position, comments, ICC, XMP). The EXIF orientation is applied to the pixels first,
// since the tag that told viewers to rotate is gone afterwards. The input guards are those of every ffmpeg run
// (docs/security.md, Uploads and ffmpeg): a forced demuxer and decoder per sniffed type, `-protocol_whitelist`,
// a `file:` input, `-nostdin`, and an output size bound.
import { join } from "node:path";
import { AudioError } from "../audio/errors.ts";
import type { FfmpegRunner } from "../audio/ffmpeg.ts";
import { PROTOCOL_WHITELIST } from "../audio/plan.ts";
import { ApiError, errors } from "../http/errors.ts";
import { type ImageInfo, type ImageType, imageSize, sniffImageType } from "./image.ts";

/** Largest side of a stored avatar: the plugin shows them at up to 128 px, so 512 covers high-DPI screens. */
export const AVATAR_OUTPUT_SIDE = 512;
/** Backstop on the encoder's output (a 512×512 RGBA PNG of noise is about 1 MiB). */
const OUTPUT_MAX_BYTES = 4 * 1024 * 1024;

const DEMUXER: Record<ImageType, string> = { jpg: "jpeg_pipe", png: "png_pipe", gif: "gif", webp: "webp_pipe" };
const DECODER: Record<ImageType, string> = { jpg: "mjpeg", png: "png", gif: "gif", webp: "webp" };
/** EXIF orientation → the filters that turn the stored pixels upright. */
const UPRIGHT: Record<number, string[]> = {
  2: ["hflip"],
  3: ["hflip", "vflip"],
  4: ["vflip"],
  5: ["transpose=cclock_flip"], // transpose across the main diagonal
  6: ["transpose=clock"],
  7: ["transpose=clock_flip"], // across the other diagonal
  8: ["transpose=cclock"],
};

export type EncodedAvatar = { type: "jpg" | "png"; bytes: Uint8Array };

/** The ffmpeg arguments that turn the upload at `input` into the stored avatar on stdout. */
export function avatarArgs(input: string, image: Pick<ImageInfo, "type" | "alpha" | "orientation">): { args: string[]; type: "jpg" | "png" } {
  const type = image.alpha ? "png" : "jpg";
  const side = AVATAR_OUTPUT_SIDE;
  const filters = [
    ...(UPRIGHT[image.orientation] ?? []),
    // Never enlarged; the longer side brought to at most `side`, the other in proportion.
    `scale=w='min(${side},iw)':h='min(${side},ih)':force_original_aspect_ratio=decrease:flags=lanczos`,
    type === "png" ? "format=rgba" : "format=yuvj420p",
  ];
  return {
    type,
    args: [
      "-nostdin",
      "-hide_banner",
      "-nostats",
      "-loglevel",
      "error",
      // We turn the pixels upright ourselves (UPRIGHT): ffmpeg 5.1 and later would also rotate by the EXIF tag they
      // now read, turning them twice; 4.x ignores the tag. Either way the result is the same (README "Audio tools").
      "-noautorotate",
      "-protocol_whitelist",
      PROTOCOL_WHITELIST,
      "-f",
      DEMUXER[image.type],
      "-c:v",
      DECODER[image.type],
      "-i",
      `file:${input}`,
      "-map",
      "0:v:0",
      "-frames:v",
      "1",
      "-vf",
      filters.join(","),
      "-map_metadata",
      "-1",
      "-fflags",
      "+bitexact",
      "-flags:v",
      "+bitexact",
      ...(type === "png" ? ["-c:v", "png"] : ["-c:v", "mjpeg", "-q:v", "3"]),
      "-fs",
      String(OUTPUT_MAX_BYTES),
      "-f",
      "image2pipe",
      "pipe:1",
    ],
  };
}

/** Decodes the checked upload once and encodes the stored avatar. 422 when it does not decode; 503 when ffmpeg cannot run. */
export async function encodeAvatar(runner: FfmpegRunner, bytes: Uint8Array, image: ImageInfo): Promise<EncodedAvatar> {
  try {
    return await runner.withTempDir(async (dir) => {
      const input = join(dir, "upload");
      await Bun.write(input, bytes);
      const { args, type } = avatarArgs(input, image);
      const r = await runner.run("ffmpeg", args, { stage: "avatar" });
      const out = r.stdout;
      const size = r.exitCode === 0 && sniffImageType(out) === type ? imageSize(out, type) : null;
      if (!size || size.width > AVATAR_OUTPUT_SIDE || size.height > AVATAR_OUTPUT_SIDE) {
        throw errors.unprocessable("corrupt_image", "The image could not be decoded");
      }
      return { type, bytes: out };
    });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof AudioError) {
      const message = err.code === "timeout" ? "The picture took too long to process" : "Pictures cannot be processed right now; try again later";
      throw errors.unavailable(err.code === "timeout" ? "timeout" : "image_processing_unavailable", message);
    }
    throw err;
  }
}

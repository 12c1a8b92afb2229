// Profile pictures: JPEG, PNG, WebP or GIF decided by the file's bytes (never its name or declared type), at most
// AVATAR_MAX_BYTES (also enforced while the body streams: the route has its own body limit in app.ts), stored under a
// server key `avatars/<userId>/<random>.<ext>`, applied at once, and the previous picture deleted.
import { eq } from "drizzle-orm";
import { users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { mirrorUserUpsert } from "../integrations/stream.ts";
import { errors } from "../http/errors.ts";
import { newKey } from "../storage/index.ts";
import type { UserRow } from "./service.ts";

export const AVATAR_MAX_BYTES = 5 * 1024 * 1024;
/** Larger pictures are refused: a small file can declare huge dimensions (a decompression bomb for every viewer). */
export const AVATAR_MAX_SIDE = 8192;

export type ImageType = "jpg" | "png" | "webp" | "gif";
export type ImageInfo = { type: ImageType; width: number; height: number };

const ascii = (b: Uint8Array, at: number, s: string) => s.split("").every((c, i) => b[at + i] === c.charCodeAt(0));
const be16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const le16 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const le24 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
const be32 = (b: Uint8Array, at: number) => ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);

/** The image type by magic number, or null. */
export function sniffImageType(b: Uint8Array): ImageType | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpg";
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, "PNG\r\n\x1a\n")) return "png";
  if (b.length >= 6 && (ascii(b, 0, "GIF87a") || ascii(b, 0, "GIF89a"))) return "gif";
  if (b.length >= 12 && ascii(b, 0, "RIFF") && ascii(b, 8, "WEBP")) return "webp";
  return null;
}

/** Width and height from the image header, or null when the header is not there (a truncated or corrupt file). */
export function imageSize(b: Uint8Array, type: ImageType): { width: number; height: number } | null {
  const size = (width: number, height: number) => (width > 0 && height > 0 ? { width, height } : null);
  switch (type) {
    case "png":
      return b.length >= 24 && ascii(b, 12, "IHDR") ? size(be32(b, 16), be32(b, 20)) : null;
    case "gif":
      return b.length >= 10 ? size(le16(b, 6), le16(b, 8)) : null;
    case "webp":
      if (b.length >= 30 && ascii(b, 12, "VP8 ") && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) return size(le16(b, 26) & 0x3fff, le16(b, 28) & 0x3fff);
      if (b.length >= 25 && ascii(b, 12, "VP8L") && b[20] === 0x2f) {
        const bits = (b[21]! | (b[22]! << 8) | (b[23]! << 16) | (b[24]! << 24)) >>> 0;
        return size((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
      }
      if (b.length >= 30 && ascii(b, 12, "VP8X")) return size(le24(b, 24) + 1, le24(b, 27) + 1);
      return null;
    case "jpg": {
      // Walk the marker segments to the first start-of-frame (SOF0..SOF15 except DHT, JPG and DAC).
      let i = 2;
      while (i + 4 <= b.length) {
        if (b[i] !== 0xff) return null;
        const marker = b[i + 1]!;
        if (marker === 0xff) {
          i++; // fill byte
          continue;
        }
        if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
          i += 2; // markers without a length
          continue;
        }
        if (marker === 0xd9 || marker === 0xda) return null; // end of image / start of scan before any frame
        const length = be16(b, i + 2);
        if (length < 2) return null;
        if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
          return i + 9 <= b.length ? size(be16(b, i + 7), be16(b, i + 5)) : null;
        }
        i += 2 + length;
      }
      return null;
    }
  }
}

/** Checks an uploaded picture by its bytes: 422 empty, 413 too big, 415 not an image we take, 422 corrupt or huge. */
export function inspectImage(bytes: Uint8Array): ImageInfo {
  if (bytes.length === 0) throw errors.unprocessable("empty_file", "The file is empty");
  if (bytes.length > AVATAR_MAX_BYTES) throw errors.tooLarge(`A profile picture is at most ${AVATAR_MAX_BYTES} bytes`);
  const type = sniffImageType(bytes);
  // Decided by content only: the file name and its declared Content-Type are ignored.
  if (!type) throw errors.unsupportedMedia("unsupported_image", "A profile picture must be a JPEG, PNG, WebP or GIF image");
  const dims = imageSize(bytes, type);
  if (!dims) throw errors.unprocessable("corrupt_image", "The image header could not be read");
  if (dims.width > AVATAR_MAX_SIDE || dims.height > AVATAR_MAX_SIDE) {
    throw errors.unprocessable("image_too_large", `A profile picture is at most ${AVATAR_MAX_SIDE}×${AVATAR_MAX_SIDE} pixels`);
  }
  return { type, ...dims };
}

/**
 * Stores a new profile picture and applies it at once (avatar_url of the user and user_avatar_url of their posts
 * both come from users.avatar_key). The previous picture is deleted after the switch; if the switch fails, the new
 * object is deleted instead. Returns the new avatar's public URL and the updated user.
 */
export async function setAvatar(deps: Deps, userId: string, file: Blob): Promise<{ url: string; user: UserRow }> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const image = inspectImage(bytes);
  // A server-generated, unguessable key: the client's file name never reaches storage.
  const key = newKey(["avatars", userId], image.type);
  await deps.storage.put(key, bytes);
  let switched: { user: UserRow | undefined; previous: string | null };
  try {
    switched = await deps.database.tx(async (tx) => {
      const [old] = await tx.select({ avatarKey: users.avatarKey }).from(users).where(eq(users.id, userId)).limit(1);
      const [row] = await tx.update(users).set({ avatarKey: key, updatedAt: deps.clock.now() }).where(eq(users.id, userId)).returning();
      await mirrorUserUpsert(deps, tx, userId);
      return { user: row, previous: old?.avatarKey ?? null };
    });
  } catch (err) {
    await removeObject(deps, key);
    throw err;
  }
  const { user, previous } = switched;
  if (!user) {
    await removeObject(deps, key);
    throw errors.notFound("user_not_found", "This account no longer exists");
  }
  if (previous && previous !== key) await removeObject(deps, previous);
  return { url: deps.mediaUrl(key), user };
}

/** Best effort: an object left behind costs space, never correctness, so a failure is logged, not answered. */
async function removeObject(deps: Deps, key: string) {
  try {
    await deps.storage.delete(key);
  } catch (err) {
    deps.log.error("could not delete an avatar object", { key, reason: String(err) });
  }
}

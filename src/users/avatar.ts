// Profile pictures: JPEG, PNG, WebP or GIF decided by the file's bytes (never its name or declared type), at most
// AVATAR_MAX_BYTES (also enforced while the body streams: the route has its own body limit), checked from their
// headers (every frame's declared size) before anything decodes them, then re-encoded by ffmpeg to at most
// 512×512 (avatar-encode.ts): what is stored and served is our own PNG or JPEG, without the upload's metadata
// (EXIF, GPS included). Stored under a server key `avatars/<userId>/<random>.<ext>`, applied at once, and the
// previous picture deleted.
import { eq } from "drizzle-orm";
import { users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { mirrorUserUpsert } from "../integrations/stream.ts";
import { errors } from "../http/errors.ts";
import { errorFields } from "../log.ts";
import { newKey } from "../storage/index.ts";
import { encodeAvatar } from "./avatar-encode.ts";
import { imageHeader, type ImageInfo, sniffImageType } from "./image.ts";
import type { UserRow } from "./service.ts";

export const AVATAR_MAX_BYTES = 5 * 1024 * 1024;
/**
 * Bounds on every frame an upload declares, checked before decoding: a small file can declare huge dimensions
 * (an 8192×8192 PNG is 261 KB on disk and 256 MiB decoded). 8192 px per side and 36 megapixels per frame (at
 * most 144 MiB of RGBA in the ffmpeg process, 54 MiB for a JPEG) let through every phone and camera photo up to
 * 36 Mpx (a 24 Mpx iPhone photo is 5712×4284) and refuse the bombs.
 */
export const AVATAR_MAX_SIDE = 8192;
export const AVATAR_MAX_PIXELS = 36_000_000;

export { type Frame, type ImageHeader, type ImageInfo, type ImageType, imageHeader, imageSize, sniffImageType } from "./image.ts";

/** Checks an uploaded picture by its bytes: 422 empty, 413 too big, 415 not an image we take, 422 corrupt or huge. */
export function inspectImage(bytes: Uint8Array): ImageInfo {
  if (bytes.length === 0) throw errors.unprocessable("empty_file", "The file is empty");
  if (bytes.length > AVATAR_MAX_BYTES) throw errors.tooLarge(`A profile picture is at most ${AVATAR_MAX_BYTES} bytes`);
  const type = sniffImageType(bytes);
  // Decided by content only: the file name and its declared Content-Type are ignored.
  if (!type) throw errors.unsupportedMedia("unsupported_image", "A profile picture must be a JPEG, PNG, WebP or GIF image");
  const h = imageHeader(bytes, type);
  if (!h) throw errors.unprocessable("corrupt_image", "The image header could not be read");
  // Every frame, with its offset on the canvas: a decoder allocates what the frame declares, whatever the canvas.
  for (const f of [{ x: 0, y: 0, width: h.width, height: h.height }, ...h.frames]) {
    const width = f.x + f.width,
      height = f.y + f.height;
    if (width > AVATAR_MAX_SIDE || height > AVATAR_MAX_SIDE || f.width * f.height > AVATAR_MAX_PIXELS) {
      throw errors.unprocessable(
        "image_too_large",
        `A profile picture is at most ${AVATAR_MAX_SIDE} pixels per side and ${AVATAR_MAX_PIXELS / 1e6} megapixels; this one declares ${f.width}×${f.height}`,
      );
    }
  }
  return { type, ...h };
}

/**
 * Stores a new profile picture and applies it at once (avatar_url of the user and user_avatar_url of their posts
 * both come from users.avatar_key). The previous picture is deleted after the switch; if the switch fails, the new
 * object is deleted instead. Returns the new avatar's public URL and the updated user.
 */
export async function setAvatar(deps: Deps, userId: string, file: Blob): Promise<{ url: string; user: UserRow }> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const avatar = await encodeAvatar(deps.ffmpeg, bytes, inspectImage(bytes));
  // A server-generated, unguessable key: the client's file name never reaches storage.
  const key = newKey(["avatars", userId], avatar.type);
  await deps.storage.put(key, avatar.bytes);
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
    deps.log.error("could not delete an avatar object", { key, ...errorFields(err) });
  }
}

// The object storage interface every feature uses (through deps), and the factory that picks a driver:
// local disk under DATA_DIR/media (default) or any S3-compatible bucket (R2, S3, MinIO). Features never see
// which one is in use; they only store server-generated keys (keys.ts) and hand out url(key).
import { join } from "node:path";
import type { LocalStorageOptions } from "./local.ts";
import type { S3StorageOptions } from "./s3.ts";

export { StorageKeyError, newKey, keyPrefix, isValidKey, contentTypeOf, MEDIA_EXTENSIONS, type MediaExtension } from "./keys.ts";

/** What put accepts: bytes, a Blob (a `Bun.file(path)` is one), or the path of a file to copy in. */
export type PutBody = Uint8Array | Blob | { path: string };

export type PutOptions = {
  /** Optional; must agree with the key's extension, which decides the type (see keys.ts). */
  contentType?: string;
  /** S3 only: the Cache-Control stored on the object (a CDN serves it). Default: immutable for a year. */
  cacheControl?: string;
};

/** Inclusive byte range, already checked against the object's size (`start <= end < size`). */
export type ByteRange = { start: number; end: number };

export type ObjectInfo = {
  key: string;
  /** Size of the whole object in bytes. */
  size: number;
  contentType: string;
  /** A strong, quoted entity tag, e.g. `"5f-18c2..."`. */
  etag: string;
};

export type ObjectBody = ObjectInfo & {
  body: ReadableStream<Uint8Array>;
  /** The range the body holds when one was asked for. */
  range?: ByteRange;
  /** Bytes in `body`: `size`, or the range's length. */
  length: number;
};

export interface Storage {
  readonly driver: "local" | "s3";
  /** Stores the object under `key`, replacing it whole (readers never see a partial object). */
  put(key: string, body: PutBody, opts?: PutOptions): Promise<ObjectInfo>;
  /** The object (or the given range of it), or null when there is none. Throws RangeError for a range past the end. */
  get(key: string, range?: ByteRange): Promise<ObjectBody | null>;
  head(key: string): Promise<ObjectInfo | null>;
  exists(key: string): Promise<boolean>;
  /** Idempotent: deleting a missing object succeeds. */
  delete(key: string): Promise<void>;
  /** Deletes all the given keys (all validated before any is deleted); idempotent. */
  deleteMany(keys: readonly string[]): Promise<void>;
  /** Deletes every object under `prefix` (e.g. `loops/<postId>/`, see keyPrefix); returns how many were deleted. */
  deletePrefix(prefix: string): Promise<number>;
  /**
   * An absolute URL a client fetches without any auth header: `${PUBLIC_URL}/media/<key>` (local),
   * `${CDN_BASE_URL}/<key>` or a short-lived presigned GET URL (S3).
   */
  url(key: string): Promise<string>;
  /** Readiness probe: resolves when the storage accepts writes, throws with a reason otherwise. */
  ready(): Promise<void>;
  /** Releases sockets (S3); the local driver has nothing to close. */
  close(): Promise<void>;
}

export type StorageOptions = ({ driver: "local" } & LocalStorageOptions) | ({ driver: "s3" } & S3StorageOptions);

/**
 * Builds the configured driver. The S3 driver (and the AWS SDK behind it) is only loaded when chosen, so a
 * local server does not pay for it at start-up.
 */
export async function createStorage(opts: StorageOptions): Promise<Storage> {
  if (opts.driver === "local") {
    const { createLocalStorage } = await import("./local.ts");
    return createLocalStorage(opts);
  }
  const { createS3Storage } = await import("./s3.ts");
  return createS3Storage(opts);
}

/** The config fields storage reads (a structural subset of Config, so it works before and after wiring). */
export type StorageConfig = {
  DATA_DIR: string;
  PUBLIC_URL: string;
  STORAGE?: "local" | "s3";
  S3_ENDPOINT?: string;
  S3_REGION?: string;
  S3_BUCKET?: string;
  S3_ACCESS_KEY_ID?: string;
  S3_SECRET_ACCESS_KEY?: string;
  S3_FORCE_PATH_STYLE?: boolean;
  S3_PRESIGN_TTL_S?: number;
  CDN_BASE_URL?: string;
};

/** Maps the validated config to driver options; media of the local driver live in DATA_DIR/media. */
export function storageOptionsFromConfig(config: StorageConfig, now?: () => number): StorageOptions {
  if ((config.STORAGE ?? "local") === "local") {
    return { driver: "local", dir: join(config.DATA_DIR, "media"), publicUrl: config.PUBLIC_URL };
  }
  if (!config.S3_BUCKET) throw new Error("STORAGE=s3 needs S3_BUCKET");
  return {
    driver: "s3",
    bucket: config.S3_BUCKET,
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    accessKeyId: config.S3_ACCESS_KEY_ID,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    cdnBaseUrl: config.CDN_BASE_URL,
    presignTtlS: config.S3_PRESIGN_TTL_S,
    now,
  };
}

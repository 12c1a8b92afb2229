// The object storage every feature uses (through deps; its interface is in types.ts), and the factory that picks
// a driver: local disk under DATA_DIR/media (default) or any S3-compatible bucket (R2, S3, MinIO). Features never
// see which one is in use; they only store server-generated keys (keys.ts) and hand out url(key).
import { join } from "node:path";
import type { LocalStorageOptions } from "./local.ts";
import type { S3StorageOptions } from "./s3.ts";
import type { Storage } from "./types.ts";

export { StorageKeyError, newKey, keyPrefix, isValidKey, isPrivateKey, contentTypeOf, MEDIA_EXTENSIONS, type MediaExtension } from "./keys.ts";

export type { ByteRange, ObjectBody, ObjectInfo, PutBody, PutOptions, Storage } from "./types.ts";

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

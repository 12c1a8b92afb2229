// The object storage interface every feature uses (through deps.storage), in its own module so the drivers
// (local.ts, s3.ts) implement it without importing index.ts, which loads them.

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
   * `${CDN_BASE_URL}/<key>` or a short-lived presigned GET URL (S3). `presigned`: S3 presigns even when a CDN is
   * configured (the media route, while "sign in to view" is on); the local driver has nothing else to give.
   */
  url(key: string, opts?: { presigned?: boolean }): Promise<string>;
  /** Readiness probe: resolves when the storage accepts writes, throws with a reason otherwise. */
  ready(): Promise<void>;
  /** Releases sockets (S3); the local driver has nothing to close. */
  close(): Promise<void>;
}

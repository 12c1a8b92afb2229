// S3-compatible driver (Cloudflare R2, AWS S3, MinIO, ...) through @aws-sdk/client-s3. Clients fetch objects
// straight from the bucket: `${CDN_BASE_URL}/<key>` when a public base is configured, otherwise presigned GET URLs.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type PutObjectCommandInput,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { ByteRange, ObjectBody, ObjectInfo, PutBody, PutOptions, Storage } from "./types.ts";
import { assertValidKey, assertValidPrefix, contentTypeOf, resolveContentType } from "./keys.ts";

export type S3StorageOptions = {
  bucket: string;
  /** e.g. `https://<account>.r2.cloudflarestorage.com`, `http://minio:9000`; omit for AWS S3. */
  endpoint?: string;
  /** Default "auto" (what R2 expects); AWS needs the bucket's region. */
  region?: string;
  /** With neither key given, the SDK's default credential chain is used (instance role, ...). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key` (MinIO and most self-hosted servers). */
  forcePathStyle?: boolean;
  /** Public base URL of the bucket (CDN or R2 public domain). When set, URLs are `${cdnBaseUrl}/<key>`, unsigned. */
  cdnBaseUrl?: string;
  /** Lifetime of presigned GET URLs in seconds (1..604800, the SigV4 maximum). Default 3600. */
  presignTtlS?: number;
  /** Clock for presigning (tests); default Date.now. */
  now?: () => number;
  /** Objects per listing page and per DeleteObjects call (tests make it small); default and maximum 1000. */
  batchSize?: number;
};

export const DEFAULT_PRESIGN_TTL_S = 3600;
const DEFAULT_CACHE_CONTROL = "public, max-age=31536000, immutable";
// Bodies up to this size are sent from memory so the SDK can retry them; larger ones stream from disk (the SDK
// never retries a streamed body, it cannot rewind it).
const BUFFER_MAX_BYTES = 8 * 1024 * 1024;
const MAX_BATCH = 1000; // the DeleteObjects and ListObjectsV2 maximum
// A fixed key outside the key space (keys start with a letter or digit): written and removed by ready().
const READINESS_KEY = ".sidechain-readiness";

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NoSuchKey" || e?.name === "NotFound" || e?.$metadata?.httpStatusCode === 404;
}

/** The SDK body for a put, and its length (S3 needs the length up front for a streamed body). */
async function sdkBody(body: PutBody): Promise<{ body: PutObjectCommandInput["Body"]; length: number }> {
  if (body instanceof Uint8Array) return { body, length: body.byteLength };
  if (body instanceof Blob) {
    if (body.size <= BUFFER_MAX_BYTES) return { body: new Uint8Array(await body.arrayBuffer()), length: body.size };
    return { body: Readable.fromWeb(body.stream() as unknown as import("node:stream/web").ReadableStream), length: body.size };
  }
  if (body && typeof (body as { path?: unknown }).path === "string") {
    const path = (body as { path: string }).path;
    const size = (await stat(path)).size;
    if (size <= BUFFER_MAX_BYTES) return { body: new Uint8Array(await Bun.file(path).arrayBuffer()), length: size };
    return { body: createReadStream(path), length: size };
  }
  // A bare string is refused on purpose: it could be meant as content (JSON, SVG) or as a path.
  throw new TypeError("put body must be a Uint8Array, a Blob or { path }");
}

export function createS3Storage(opts: S3StorageOptions): Storage {
  const { bucket } = opts;
  if (!bucket) throw new Error("S3 storage needs a bucket");
  if (Boolean(opts.accessKeyId) !== Boolean(opts.secretAccessKey)) {
    throw new Error("S3 storage needs both an access key id and a secret access key, or neither");
  }
  const ttlS = opts.presignTtlS ?? DEFAULT_PRESIGN_TTL_S;
  if (!Number.isInteger(ttlS) || ttlS < 2 || ttlS > 604800) throw new Error(`presign TTL must be 2..604800 s, got ${ttlS}`);
  const now = opts.now ?? Date.now;
  const cdn = opts.cdnBaseUrl?.replace(/\/+$/, "");
  const batch = Math.min(MAX_BATCH, Math.max(1, opts.batchSize ?? MAX_BATCH));

  const client = new S3Client({
    endpoint: opts.endpoint,
    region: opts.region || "auto",
    forcePathStyle: opts.forcePathStyle ?? false,
    credentials: opts.accessKeyId ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey! } : undefined,
    // Since SDK 3.729 every upload carries a CRC32 trailer by default (aws-chunked encoding), which several
    // S3-compatible servers reject or store verbatim. Checksums only where the API requires one (DeleteObjects).
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });

  const toInfo = (key: string, r: { ContentLength?: number; ContentType?: string; ETag?: string }): ObjectInfo => ({
    key,
    size: r.ContentLength ?? 0,
    // The key decides the type (keys.ts); the stored type was set from it by put.
    contentType: r.ContentType || contentTypeOf(key),
    etag: r.ETag ?? "",
  });

  async function deleteBatch(keys: string[]) {
    if (keys.length === 0) return;
    const out = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
    // DeleteObjects answers 200 even when some keys failed: the failures are in the body.
    const failed = (out.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
    if (failed.length) {
      throw new Error(
        `S3 delete failed for ${failed.length} object(s): ${failed
          .slice(0, 3)
          .map((e) => `${e.Key} (${e.Code})`)
          .join(", ")}`,
      );
    }
  }

  const storage: Storage = {
    driver: "s3",

    async put(key: string, body: PutBody, opts: PutOptions = {}): Promise<ObjectInfo> {
      const contentType = resolveContentType(key, opts.contentType);
      assertValidKey(key);
      const { body: payload, length } = await sdkBody(body);
      // A single PutObject is atomic on S3: readers see the old object or the whole new one.
      const out = await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: payload,
          ContentLength: length,
          ContentType: contentType,
          CacheControl: opts.cacheControl ?? DEFAULT_CACHE_CONTROL,
        }),
      );
      return { key, size: length, contentType, etag: out.ETag ?? "" };
    },

    async get(key: string, range?: ByteRange): Promise<ObjectBody | null> {
      assertValidKey(key);
      if (range && !(range.start >= 0 && range.start <= range.end)) throw new RangeError(`invalid range ${range.start}-${range.end}`);
      let out: GetObjectCommandOutput;
      try {
        out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }));
      } catch (err) {
        if (isNotFound(err)) return null;
        if ((err as { name?: string }).name === "InvalidRange") throw new RangeError(`range ${range?.start}-${range?.end} is outside ${key}`);
        throw err;
      }
      const length = out.ContentLength ?? 0;
      // With a range, ContentLength is the part; the whole size is after the "/" of Content-Range.
      const total = range ? Number(out.ContentRange?.split("/")[1]) : length;
      const body = out.Body?.transformToWebStream() ?? new Blob([]).stream();
      return {
        ...toInfo(key, out),
        size: Number.isFinite(total) ? total : length,
        body: body as ReadableStream<Uint8Array>,
        range: range ? { start: range.start, end: range.start + length - 1 } : undefined,
        length,
      };
    },

    async head(key: string): Promise<ObjectInfo | null> {
      assertValidKey(key);
      try {
        return toInfo(key, await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },

    async exists(key: string): Promise<boolean> {
      return (await storage.head(key)) !== null;
    },

    async delete(key: string): Promise<void> {
      assertValidKey(key);
      // S3 answers 204 for a missing key too: idempotent by nature.
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },

    async deleteMany(keys: readonly string[]): Promise<void> {
      keys.forEach(assertValidKey); // all keys checked before anything is deleted
      const unique = [...new Set(keys)];
      for (let i = 0; i < unique.length; i += batch) await deleteBatch(unique.slice(i, i + batch));
    },

    async deletePrefix(prefix: string): Promise<number> {
      assertValidPrefix(prefix);
      // Each round lists the first page of what is left and deletes it, until nothing is left: no continuation
      // token is carried across deletions (whose meaning after a delete varies between S3-compatible servers).
      let deleted = 0;
      let previous = new Set<string>();
      for (;;) {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: batch }));
        const keys = (page.Contents ?? []).map((o) => o.Key!).filter(Boolean);
        if (keys.length === 0) break;
        // A key listed again right after its delete succeeded would loop forever: fail loudly instead.
        if (keys.some((k) => previous.has(k))) throw new Error(`S3 still lists deleted objects under ${prefix}`);
        await deleteBatch(keys);
        deleted += keys.length;
        if (!page.IsTruncated) break;
        previous = new Set(keys);
      }
      return deleted;
    },

    async url(key: string, urlOpts?: { presigned?: boolean }): Promise<string> {
      assertValidKey(key);
      if (cdn && !urlOpts?.presigned) return `${cdn}/${key}`; // key characters need no escaping
      // Sign at the start of the current half-TTL window rather than "now": the URL of an object stays the same
      // for TTL/2, so clients and browsers can cache it, and every URL handed out is valid for at least TTL/2.
      const windowMs = (ttlS * 1000) / 2;
      const signingDate = new Date(Math.floor(now() / windowMs) * windowMs);
      return getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: ttlS, signingDate });
    },

    async ready(): Promise<void> {
      // A write and a delete prove the bucket exists and the credentials may write (HeadBucket proves neither).
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: READINESS_KEY, Body: new Uint8Array([0x6f, 0x6b]) }));
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: READINESS_KEY }));
    },

    async close(): Promise<void> {
      client.destroy();
    },
  };
  return storage;
}

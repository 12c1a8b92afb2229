// The S3 driver against a real S3-compatible server (s3rver, signature checking on) started by the test.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startS3rver, type S3rverHandle } from "../../test/support/s3.ts";
import { storageContract } from "../../test/support/storage-contract.ts";
import { createStorage, newKey, storageOptionsFromConfig, type Storage } from "./index.ts";
import { createS3Storage } from "./s3.ts";

let s3: S3rverHandle;
let storage: Storage;
const opened: Storage[] = [];
const open = (extra: Partial<Parameters<typeof createS3Storage>[0]> = {}) => {
  const s = createS3Storage({ ...s3.options, ...extra });
  opened.push(s);
  return s;
};

beforeAll(async () => {
  s3 = await startS3rver();
  storage = await createStorage(
    storageOptionsFromConfig({
      DATA_DIR: "/nonexistent",
      PUBLIC_URL: "http://localhost:8787",
      STORAGE: "s3",
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY_ID: s3.options.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.options.secretAccessKey,
      S3_FORCE_PATH_STYLE: true,
    }),
  );
  opened.push(storage);
});
afterAll(async () => {
  for (const s of opened) await s.close();
  await s3?.stop();
});

describe("s3 storage: driver contract", () => storageContract(() => storage));

describe("s3 storage", () => {
  test("presigned URLs are readable by a plain fetch, without headers", async () => {
    expect(storage.driver).toBe("s3");
    const key = newKey(["loops", "p1"], "mp3");
    await storage.put(key, new TextEncoder().encode("mp3 bytes"));
    const url = await storage.url(key);
    expect(url.startsWith(`${s3.endpoint}/${s3.bucket}/${key}?`)).toBe(true);
    expect(url).toContain("X-Amz-Signature=");
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("audio/mpeg");
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(await res.text()).toBe("mp3 bytes");
  });

  test("the server checks signatures: a tampered or expired URL is refused", async () => {
    const key = newKey(["loops", "p2"], "json");
    await storage.put(key, new TextEncoder().encode("[]"));
    const url = await storage.url(key);
    const tampered = url.replace(/X-Amz-Signature=([0-9a-f])/, (_, c: string) => `X-Amz-Signature=${c === "0" ? "1" : "0"}`);
    expect((await fetch(tampered)).status).toBe(403);
    const past = open({ presignTtlS: 60, now: () => Date.now() - 10 * 60_000 });
    expect((await fetch(await past.url(key))).status).toBe(403);
  });

  test("a presigned URL stays the same within half its lifetime, and changes after", async () => {
    let now = Date.UTC(2030, 0, 1, 12, 0, 0);
    const s = open({ presignTtlS: 600, now: () => now });
    const key = newKey(["loops", "p3"], "svg");
    const first = await s.url(key);
    now += 299_000;
    expect(await s.url(key)).toBe(first);
    now += 2_000;
    expect(await s.url(key)).not.toBe(first);
    expect(first).toContain("X-Amz-Expires=600");
  });

  test("with CDN_BASE_URL, URLs are the CDN base plus the key, unsigned", async () => {
    const s = await createStorage({ driver: "s3", ...s3.options, cdnBaseUrl: "https://cdn.beats.example/media/" });
    opened.push(s);
    const key = newKey(["loops", "p4"], "mp3");
    expect(await s.url(key)).toBe(`https://cdn.beats.example/media/${key}`);
  });

  test("wrong credentials are refused by the server, and ready() says so", async () => {
    const s = open({ secretAccessKey: "not-the-secret" });
    await expect(s.put(newKey(["loops", "p5"], "mp3"), new Uint8Array(1))).rejects.toThrow(/signature/i);
    await expect(s.ready()).rejects.toThrow();
    await expect(open({ bucket: "no-such-bucket" }).ready()).rejects.toThrow();
  });

  test("deletePrefix and deleteMany work through several pages and batches", async () => {
    const s = open({ batchSize: 10 });
    const keys = Array.from({ length: 25 }, () => newKey(["loops", "p6"], "json"));
    await Promise.all(keys.map((k) => s.put(k, new Uint8Array([0x5b, 0x5d]))));
    expect(await s.deletePrefix("loops/p6/")).toBe(25);
    for (const k of keys) expect(await s.exists(k)).toBe(false);
    const more = Array.from({ length: 23 }, () => newKey(["loops", "p7"], "json"));
    await Promise.all(more.map((k) => s.put(k, new Uint8Array([0x5b, 0x5d]))));
    await s.deleteMany(more);
    expect(await s.deletePrefix("loops/p7/")).toBe(0);
  });

  test("bad options are refused at construction", () => {
    expect(() => createS3Storage({ ...s3.options, bucket: "" })).toThrow(/bucket/);
    expect(() => createS3Storage({ ...s3.options, secretAccessKey: undefined })).toThrow(/both/);
    expect(() => createS3Storage({ ...s3.options, presignTtlS: 700_000 })).toThrow(/TTL/);
    expect(() => storageOptionsFromConfig({ DATA_DIR: "/d", PUBLIC_URL: "http://x", STORAGE: "s3" })).toThrow(/S3_BUCKET/);
  });
});

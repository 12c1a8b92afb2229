// The behaviour every storage driver must have, run against each driver by src/storage/{local,s3}.test.ts.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageKeyError, keyPrefix, newKey, type Storage } from "../../src/storage/index.ts";

const text = (s: string) => new TextEncoder().encode(s);
const read = (body: ReadableStream<Uint8Array>) => new Response(body).text();

export function storageContract(getStorage: () => Storage) {
  const postId = () => Bun.randomUUIDv7();

  test("put, head, get and delete round trip", async () => {
    const s = getStorage();
    const key = newKey(["loops", postId()], "mp3");
    const info = await s.put(key, text("ID3 fake mp3 bytes"));
    expect(info).toMatchObject({ key, size: 18, contentType: "audio/mpeg" });
    expect(info.etag).toMatch(/^".+"$/);

    const head = await s.head(key);
    expect(head).toMatchObject({ key, size: 18, contentType: "audio/mpeg" });
    expect(head!.etag).toMatch(/^".+"$/);
    expect(await s.exists(key)).toBe(true);

    const got = await s.get(key);
    expect(got).toMatchObject({ key, size: 18, length: 18, contentType: "audio/mpeg" });
    expect(await read(got!.body)).toBe("ID3 fake mp3 bytes");

    await s.delete(key);
    expect(await s.head(key)).toBeNull();
    expect(await s.get(key)).toBeNull();
    expect(await s.exists(key)).toBe(false);
    await s.delete(key); // idempotent
  });

  test("put takes a Blob, a Bun.file and a file path", async () => {
    const s = getStorage();
    const dir = mkdtempSync(join(tmpdir(), "sc-put-"));
    try {
      const file = join(dir, "peaks.json");
      writeFileSync(file, JSON.stringify([0, 0.5, 1]));
      const id = postId();
      const fromBlob = newKey(["loops", id], "json");
      const fromBunFile = newKey(["loops", id], "json");
      const fromPath = newKey(["loops", id], "json");
      await s.put(fromBlob, new Blob(['{"a":1}']), { contentType: "application/json" });
      await s.put(fromBunFile, Bun.file(file));
      await s.put(fromPath, { path: file });
      expect(await read((await s.get(fromBlob))!.body)).toBe('{"a":1}');
      expect(await read((await s.get(fromBunFile))!.body)).toBe("[0,0.5,1]");
      expect(await read((await s.get(fromPath))!.body)).toBe("[0,0.5,1]");
      expect((await s.head(fromPath))!.contentType).toBe("application/json");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a large file streams in whole", async () => {
    const s = getStorage();
    const dir = mkdtempSync(join(tmpdir(), "sc-put-"));
    try {
      const bytes = new Uint8Array(9 * 1024 * 1024 + 7).map((_, i) => (i * 31) & 0xff);
      const file = join(dir, "original.wav");
      writeFileSync(file, bytes);
      const key = newKey(["loops", postId()], "wav", "original");
      expect((await s.put(key, { path: file })).size).toBe(bytes.length);
      const got = await s.get(key);
      const back = new Uint8Array(await new Response(got!.body).arrayBuffer());
      expect(back.length).toBe(bytes.length);
      expect(Bun.hash(back)).toBe(Bun.hash(bytes));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("put replaces an object whole", async () => {
    const s = getStorage();
    const key = newKey(["loops", postId()], "svg");
    await s.put(key, text("<svg>old</svg>"));
    await s.put(key, text("<svg>new and longer</svg>"));
    const got = await s.get(key);
    expect(got!.size).toBe(25);
    expect(await read(got!.body)).toBe("<svg>new and longer</svg>");
  });

  test("get returns the asked byte range and the whole size", async () => {
    const s = getStorage();
    const key = newKey(["loops", postId()], "mp3");
    await s.put(key, text("0123456789"));
    const mid = await s.get(key, { start: 2, end: 5 });
    expect(mid).toMatchObject({ size: 10, length: 4, range: { start: 2, end: 5 } });
    expect(await read(mid!.body)).toBe("2345");
    const last = await s.get(key, { start: 9, end: 9 });
    expect(await read(last!.body)).toBe("9");
    await expect(s.get(key, { start: 10, end: 12 })).rejects.toThrow(RangeError);
  });

  test("deleteMany removes all of a post's objects and nothing else", async () => {
    const s = getStorage();
    const id = postId();
    const other = newKey(["loops", postId()], "mp3");
    const keys = [newKey(["loops", id], "wav", "original"), newKey(["loops", id], "mp3"), newKey(["loops", id], "json"), newKey(["loops", id], "svg")];
    for (const k of [...keys, other]) await s.put(k, text(k));
    await s.deleteMany([...keys, keys[0]!]);
    for (const k of keys) expect(await s.exists(k)).toBe(false);
    expect(await s.exists(other)).toBe(true);
    await s.deleteMany(keys); // idempotent
    await s.deleteMany([]);
  });

  test("deletePrefix removes every object under a post's prefix, not its neighbours", async () => {
    const s = getStorage();
    const id = postId();
    const keys = [newKey(["loops", id], "wav"), newKey(["loops", id], "mp3"), newKey(["loops", id, "v2"], "json")];
    // A post id that extends this one must survive: prefixes end at a "/".
    const neighbour = newKey(["loops", `${id}0`], "mp3");
    for (const k of [...keys, neighbour]) await s.put(k, text(k));
    expect(await s.deletePrefix(keyPrefix(["loops", id]))).toBe(3);
    for (const k of keys) expect(await s.exists(k)).toBe(false);
    expect(await s.exists(neighbour)).toBe(true);
    expect(await s.deletePrefix(keyPrefix(["loops", id]))).toBe(0);
  });

  test("keys that are not server keys are refused by every operation", async () => {
    const s = getStorage();
    const bad = ["../secrets.json", "/loops/a.mp3", "loops/../../x.mp3", "loops/a%2f.mp3", "loops/a\0.mp3", "loops/a.exe", "a.mp3", ""];
    for (const key of bad) {
      await expect(s.put(key, text("x"))).rejects.toThrow(StorageKeyError);
      await expect(s.get(key)).rejects.toThrow(StorageKeyError);
      await expect(s.head(key)).rejects.toThrow(StorageKeyError);
      await expect(s.delete(key)).rejects.toThrow(StorageKeyError);
      await expect(s.url(key)).rejects.toThrow(StorageKeyError);
    }
    const good = newKey(["loops", postId()], "mp3");
    await s.put(good, text("x"));
    // One bad key in a batch: nothing is deleted.
    await expect(s.deleteMany([good, "../x.mp3"])).rejects.toThrow(StorageKeyError);
    expect(await s.exists(good)).toBe(true);
    for (const prefix of ["", "/", "loops", "../", "loops/../", "loops//"]) {
      await expect(s.deletePrefix(prefix)).rejects.toThrow(StorageKeyError);
    }
  });

  test("a content type that contradicts the key is refused", async () => {
    const s = getStorage();
    const key = newKey(["loops", postId()], "mp3");
    await expect(s.put(key, text("x"), { contentType: "text/html" })).rejects.toThrow(StorageKeyError);
    expect(await s.exists(key)).toBe(false);
    await s.put(key, text("x"), { contentType: "audio/mpeg" });
  });

  test("a bare string body is refused (content or path? ambiguous)", async () => {
    const s = getStorage();
    const key = newKey(["loops", postId()], "json");
    await expect(s.put(key, "[1,2]" as unknown as Uint8Array)).rejects.toThrow(TypeError);
    expect(await s.exists(key)).toBe(false);
  });

  test("ready() passes on a writable store", async () => {
    await getStorage().ready();
  });
}

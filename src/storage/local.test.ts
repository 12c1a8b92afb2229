import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storageContract } from "../../test/support/storage-contract.ts";
import { createStorage, keyPrefix, newKey, storageOptionsFromConfig, type Storage } from "./index.ts";
import { createLocalStorage } from "./local.ts";

let dataDir: string;
let storage: Storage;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "sc-local-"));
  storage = await createStorage(storageOptionsFromConfig({ DATA_DIR: dataDir, PUBLIC_URL: "https://beats.example" }));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("local storage: driver contract", () => storageContract(() => storage));

describe("local storage", () => {
  const media = () => join(dataDir, "media");

  test("files live under DATA_DIR/media/<key>; URLs are PUBLIC_URL/media/<key>", async () => {
    expect(storage.driver).toBe("local");
    const key = newKey(["loops", "p1"], "mp3");
    await storage.put(key, new Uint8Array([1, 2, 3]));
    expect(existsSync(join(media(), key))).toBe(true);
    expect(await storage.url(key)).toBe(`https://beats.example/media/${key}`);
  });

  test("writes leave no temp files behind, also when the source is missing", async () => {
    const key = newKey(["loops", "p2"], "wav");
    await storage.put(key, new Uint8Array(10));
    await expect(storage.put(newKey(["loops", "p2"], "wav"), { path: join(dataDir, "nope.wav") })).rejects.toThrow();
    expect(readdirSync(join(media(), ".tmp"))).toEqual([]);
  });

  test("concurrent writes of one key leave one whole version", async () => {
    const key = newKey(["loops", "p3"], "json");
    const versions = Array.from({ length: 20 }, (_, i) => new Uint8Array(50_000).fill(65 + i));
    await Promise.all(versions.map((v) => storage.put(key, v)));
    const back = new Uint8Array(await new Response((await storage.get(key))!.body).arrayBuffer());
    expect(back.length).toBe(50_000);
    expect(back.every((b) => b === back[0])).toBe(true);
  });

  test("deleting a post's objects removes its now-empty directory", async () => {
    const keys = [newKey(["loops", "p4"], "mp3"), newKey(["loops", "p4"], "svg")];
    for (const k of keys) await storage.put(k, new Uint8Array(1));
    await storage.deleteMany(keys);
    expect(existsSync(join(media(), "loops", "p4"))).toBe(false);
    expect(existsSync(join(media(), "loops"))).toBe(true); // other posts still live there
    await storage.put(newKey(["loops", "p5"], "mp3"), new Uint8Array(1));
    await storage.deletePrefix(keyPrefix(["loops", "p5"]));
    expect(existsSync(join(media(), "loops", "p5"))).toBe(false);
  });

  test("the ETag changes when a key is rewritten", async () => {
    const key = newKey(["loops", "p6"], "json");
    const a = await storage.put(key, new TextEncoder().encode("[1]"));
    await Bun.sleep(5);
    const b = await storage.put(key, new TextEncoder().encode("[2]"));
    expect(a.etag).not.toBe(b.etag);
    expect((await storage.head(key))!.etag).toBe(b.etag);
  });

  test("a directory where a key's file would be is not an object", async () => {
    mkdirSync(join(media(), "loops", "p7", "d.mp3"), { recursive: true });
    expect(await storage.head("loops/p7/d.mp3")).toBeNull();
    expect(await storage.get("loops/p7/d.mp3")).toBeNull();
  });

  test("stale temp files from a crash are swept at start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sc-sweep-"));
    try {
      mkdirSync(join(dir, ".tmp"), { recursive: true });
      const stale = join(dir, ".tmp", "old.part");
      const fresh = join(dir, ".tmp", "new.part");
      writeFileSync(stale, "x");
      writeFileSync(fresh, "x");
      const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
      utimesSync(stale, old, old);
      createLocalStorage({ dir, publicUrl: "http://localhost:8787" });
      for (let i = 0; i < 100 && existsSync(stale); i++) await Bun.sleep(10);
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(fresh)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("ready() fails when the media directory cannot be written", async () => {
    const file = join(dataDir, "not-a-dir");
    writeFileSync(file, "x");
    const broken = createLocalStorage({ dir: join(file, "media"), publicUrl: "http://localhost:8787" });
    await expect(broken.ready()).rejects.toThrow();
  });
});

// GET/HEAD /media/<key>: the local driver's objects served by the app, and the redirect used with S3 storage.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorHandler } from "../../src/http/errors.ts";
import { Lru } from "../../src/lib/lru.ts";
import { mediaRoutes } from "../../src/media/routes.ts";
import { createStorage, newKey, type Storage } from "../../src/storage/index.ts";
import { startS3rver, type S3rverHandle } from "../support/s3.ts";

const SECRET = "TOP-SECRET-MARKER-7f3a";
const errorsLogged: unknown[] = [];
const log = { debug() {}, info() {}, warn() {}, error: (msg: string, f?: unknown) => void errorsLogged.push({ msg, f }) };

let dataDir: string;
let storage: Storage;
/** Every key the routes asked the storage for: a refused path must never get this far. */
const reached: string[] = [];
let app: { handle(r: Request): Promise<Response> };
const bytes = new Uint8Array(1000).map((_, i) => i % 251);
let mp3: string;
let json: string;
let svg: string;

const call = (path: string, init?: RequestInit) => app.handle(new Request(`http://localhost${path}`, init));
const bodyBytes = async (res: Response) => new Uint8Array(await res.arrayBuffer());

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "sc-media-"));
  // Things a traversal would like to read: a file next to the media root, and a temp file inside it.
  writeFileSync(join(dataDir, "secrets.json"), JSON.stringify({ JWT_SECRET: SECRET }));
  mkdirSync(join(dataDir, "media", ".tmp"), { recursive: true });
  writeFileSync(join(dataDir, "media", ".tmp", "x.part"), SECRET);
  const real = await createStorage({ driver: "local", dir: join(dataDir, "media"), publicUrl: "http://localhost:8787" });
  storage = {
    ...real,
    head: (key) => (reached.push(key), real.head(key)),
    get: (key, range) => (reached.push(key), real.get(key, range)),
  };
  mp3 = newKey(["loops", "p1"], "mp3");
  json = newKey(["loops", "p1"], "json");
  svg = newKey(["loops", "p1"], "svg");
  await storage.put(mp3, bytes);
  await storage.put(json, new TextEncoder().encode("[0,0.5,1]"));
  await storage.put(svg, new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>'));
  app = new Elysia().use(errorHandler(log)).use(mediaRoutes({ storage }));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("gzip for the peaks JSON and SVG waveforms", () => {
  const peaks = JSON.stringify(Array.from({ length: 800 }, (_, i) => Math.round(Math.abs(Math.sin(i / 7)) * 1000) / 1000));
  let zapp: { handle(r: Request): Promise<Response> };
  let big: string;
  const zcall = (path: string, headers: Record<string, string> = {}, method = "GET") =>
    zapp.handle(new Request(`http://localhost${path}`, { method, headers }));
  beforeAll(async () => {
    big = newKey(["loops", "p2"], "json");
    await storage.put(big, new TextEncoder().encode(peaks));
    zapp = new Elysia().use(errorHandler(log)).use(mediaRoutes({ storage, caches: { mediaGzip: new Lru(16) } }));
  });

  test("a client that accepts gzip gets it (smaller, the same bytes once inflated), with its own etag and Vary", async () => {
    const res = await zcall(`/media/${big}`, { "accept-encoding": "gzip, deflate, br" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-encoding")).toBe("gzip");
    expect(res.headers.get("vary")).toBe("accept-encoding");
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = await bodyBytes(res);
    expect(Number(res.headers.get("content-length"))).toBe(body.length);
    expect(body.length).toBeLessThan(peaks.length / 2);
    expect(new TextDecoder().decode(Bun.gunzipSync(body))).toBe(peaks);
    const plain = await zcall(`/media/${big}`);
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(plain.headers.get("vary")).toBe("accept-encoding");
    expect(await plain.text()).toBe(peaks);
    expect(res.headers.get("etag")).not.toBe(plain.headers.get("etag"));
    // Revalidation of each copy by its own tag.
    const again = await zcall(`/media/${big}`, { "accept-encoding": "gzip", "if-none-match": res.headers.get("etag")! });
    expect(again.status).toBe(304);
    const svgRes = await zcall(`/media/${svg}`, { "accept-encoding": "gzip" });
    expect(svgRes.headers.get("content-encoding")).toBe("gzip");
    expect(svgRes.headers.get("content-security-policy")).toContain("sandbox");
  });

  test("compressed once per object: the second answer reads nothing from storage", async () => {
    await zcall(`/media/${big}`, { "accept-encoding": "gzip" });
    const before = reached.length;
    await zcall(`/media/${big}`, { "accept-encoding": "gzip" });
    expect(reached.slice(before)).toEqual([big]); // the head only
  });

  test("a Range, a HEAD and audio are served as stored", async () => {
    const ranged = await zcall(`/media/${big}`, { "accept-encoding": "gzip", range: "bytes=0-9" });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("content-encoding")).toBeNull();
    expect(await ranged.text()).toBe(peaks.slice(0, 10));
    const head = await zcall(`/media/${big}`, { "accept-encoding": "gzip" }, "HEAD");
    expect(head.headers.get("content-encoding")).toBeNull();
    expect(head.headers.get("content-length")).toBe(String(peaks.length));
    const audio = await zcall(`/media/${mp3}`, { "accept-encoding": "gzip" });
    expect(audio.headers.get("content-encoding")).toBeNull();
    expect(audio.headers.get("vary")).toBeNull();
  });
});

describe("GET /media/<key> (local storage)", () => {
  test("serves the object with its type, length, ETag, immutable caching and nosniff", async () => {
    const res = await call(`/media/${mp3}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("audio/mpeg");
    expect(res.headers.get("content-length")).toBe("1000");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("etag")).toMatch(/^"[0-9a-f-]+"$/);
    expect(res.headers.get("content-security-policy")).toContain("sandbox");
    expect(await bodyBytes(res)).toEqual(bytes);
  });

  test("a query string (cache busters) does not change which object is served", async () => {
    const res = await call(`/media/${mp3}?v=2&x=..%2f..%2fsecrets.json`);
    expect(res.status).toBe(200);
    expect((await bodyBytes(res)).length).toBe(1000);
  });

  test("the type comes from the stored object's key: JSON peaks and SVG waveforms", async () => {
    const j = await call(`/media/${json}`);
    expect(j.headers.get("content-type")).toBe("application/json");
    expect(await j.json()).toEqual([0, 0.5, 1]);
    const s = await call(`/media/${svg}`);
    expect(s.headers.get("content-type")).toBe("image/svg+xml");
    expect(s.headers.get("x-content-type-options")).toBe("nosniff");
  });

  test("the plugin's renditions: .ogg as audio/ogg, .png as image/png (JUCE's readers pick the decoder by content)", async () => {
    const ogg = newKey(["loops", "p1"], "ogg");
    const png = newKey(["loops", "p1"], "png");
    await storage.put(ogg, new TextEncoder().encode("OggS"));
    await storage.put(png, Uint8Array.of(0x89, 0x50, 0x4e, 0x47));
    const o = await call(`/media/${ogg}`);
    expect(o.headers.get("content-type")).toBe("audio/ogg");
    expect(o.headers.get("accept-ranges")).toBe("bytes");
    const p = await call(`/media/${png}`);
    expect(p.headers.get("content-type")).toBe("image/png");
    expect(p.headers.get("x-content-type-options")).toBe("nosniff");
    // A stored object cannot claim another type than its key's.
    await expect(storage.put(newKey(["loops", "p1"], "ogg"), new Uint8Array(1), { contentType: "audio/mpeg" })).rejects.toThrow();
  });

  test("HEAD answers the same status and headers, without a body", async () => {
    const get = await call(`/media/${mp3}`);
    const head = await call(`/media/${mp3}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    for (const h of ["content-type", "content-length", "accept-ranges", "cache-control", "etag", "x-content-type-options"]) {
      expect(head.headers.get(h)).toBe(get.headers.get(h));
    }
    expect((await bodyBytes(head)).length).toBe(0);
  });

  test("Range: the first bytes", async () => {
    const res = await call(`/media/${mp3}`, { headers: { range: "bytes=0-99" } });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("bytes 0-99/1000");
    expect(res.headers.get("content-length")).toBe("100");
    expect(res.headers.get("content-type")).toBe("audio/mpeg");
    expect(await bodyBytes(res)).toEqual(bytes.slice(0, 100));
  });

  test("Range: a suffix (the last N bytes)", async () => {
    const res = await call(`/media/${mp3}`, { headers: { range: "bytes=-100" } });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("bytes 900-999/1000");
    expect(await bodyBytes(res)).toEqual(bytes.slice(900));
  });

  test("Range: open-ended, and an end past the object clamped", async () => {
    const open = await call(`/media/${mp3}`, { headers: { range: "bytes=990-" } });
    expect(open.status).toBe(206);
    expect(open.headers.get("content-range")).toBe("bytes 990-999/1000");
    expect(open.headers.get("content-length")).toBe("10");
    expect(await bodyBytes(open)).toEqual(bytes.slice(990));
    const past = await call(`/media/${mp3}`, { headers: { range: "bytes=500-5000" } });
    expect(past.headers.get("content-range")).toBe("bytes 500-999/1000");
    expect(await bodyBytes(past)).toEqual(bytes.slice(500));
  });

  test("Range: unsatisfiable is 416 in the contract shape with the size", async () => {
    for (const range of ["bytes=1000-", "bytes=5000-6000", "bytes=-0"]) {
      const res = await call(`/media/${mp3}`, { headers: { range } });
      expect(res.status).toBe(416);
      expect(res.headers.get("content-range")).toBe("bytes */1000");
      const body = await res.json();
      expect(body.error).toBe("range_not_satisfiable");
      expect(typeof body.message).toBe("string");
    }
  });

  test("Range on HEAD gives the partial headers", async () => {
    const res = await call(`/media/${mp3}`, { method: "HEAD", headers: { range: "bytes=10-19" } });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("bytes 10-19/1000");
    expect(res.headers.get("content-length")).toBe("10");
  });

  test("several ranges or a malformed header get the whole object", async () => {
    for (const range of ["bytes=0-1,5-6", "bytes=9-2", "lines=1-2", "bytes=abc"]) {
      const res = await call(`/media/${mp3}`, { headers: { range } });
      expect(res.status).toBe(200);
      expect((await bodyBytes(res)).length).toBe(1000);
    }
  });

  test("If-None-Match with the ETag gets 304 without a body; another tag gets the object", async () => {
    const etag = (await call(`/media/${mp3}`)).headers.get("etag")!;
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const res = await call(`/media/${mp3}`, { headers: { "if-none-match": inm } });
      expect(res.status).toBe(304);
      expect(res.headers.get("etag")).toBe(etag);
      expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect((await bodyBytes(res)).length).toBe(0);
    }
    const other = await call(`/media/${mp3}`, { headers: { "if-none-match": '"stale"' } });
    expect(other.status).toBe(200);
  });

  test("If-Range: the range only while the ETag still matches", async () => {
    const etag = (await call(`/media/${mp3}`)).headers.get("etag")!;
    const same = await call(`/media/${mp3}`, { headers: { range: "bytes=0-9", "if-range": etag } });
    expect(same.status).toBe(206);
    const changed = await call(`/media/${mp3}`, { headers: { range: "bytes=0-9", "if-range": '"old"' } });
    expect(changed.status).toBe(200);
    expect((await bodyBytes(changed)).length).toBe(1000);
  });

  test("an unknown key is 404 in the contract shape", async () => {
    const res = await call(`/media/${newKey(["loops", "p1"], "mp3")}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not_found", message: "No such media" });
  });

  test("a deleted object is gone at once", async () => {
    const key = newKey(["loops", "p2"], "mp3");
    await storage.put(key, bytes);
    expect((await call(`/media/${key}`)).status).toBe(200);
    await storage.delete(key);
    expect((await call(`/media/${key}`)).status).toBe(404);
  });

  test("other methods are 405 with Allow", async () => {
    for (const method of ["POST", "PUT", "DELETE"]) {
      const res = await call(`/media/${mp3}`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("GET, HEAD");
      expect((await res.json()).error).toBe("method_not_allowed");
    }
    expect(await storage.exists(mp3)).toBe(true);
  });

  test("traversal attempts are refused with 404 and never reach the storage", async () => {
    const attempts = [
      "/media/../secrets.json",
      "/media/%2e%2e/secrets.json",
      "/media/%2E%2E/secrets.json",
      "/media/%2e%2e%2fsecrets.json",
      "/media/..%2fsecrets.json",
      "/media/loops/..%2f..%2f..%2fsecrets.json",
      "/media/loops/p1/..%2f..%2f..%2fsecrets.json",
      "/media/%252e%252e%252fsecrets.json",
      "/media/..%5csecrets.json",
      "/media/%2fetc%2fpasswd",
      "/media//etc/passwd",
      "/media/.tmp/x.part",
      "/media/%2etmp/x.part",
      `/media/${mp3}%00`,
      `/media/${mp3}%00.json`,
      "/media/%00../secrets.json",
      "/media/loops/p1/%E0%A4%A.mp3",
      "/media/",
      "/media",
    ];
    reached.length = 0;
    for (const path of attempts) {
      const res = await call(path);
      const text = await res.text();
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(JSON.parse(text).error).toBe("not_found");
      expect(text).not.toContain(SECRET);
    }
    expect(reached).toEqual([]);
    expect(errorsLogged).toEqual([]);
  });

  test("over a real socket, a raw '..' in the request line does not escape either", async () => {
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (r) => app.handle(r) });
    try {
      for (const target of ["/media/../secrets.json", "/media/loops/../../secrets.json", "/media/..%2f..%2fsecrets.json", "/media/.tmp/x.part"]) {
        const raw = await rawGet(server.port!, target);
        expect(raw.split("\r\n")[0]).toMatch(/^HTTP\/1\.1 404/);
        expect(raw).not.toContain(SECRET);
      }
    } finally {
      server.stop(true);
    }
  });

  test("over real HTTP, Bun.serve keeps the lengths, ranges and HEAD headers", async () => {
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (r) => app.handle(r) });
    try {
      const url = `http://127.0.0.1:${server.port}/media/${mp3}`;
      const part = await fetch(url, { headers: { range: "bytes=100-199" } });
      expect(part.status).toBe(206);
      expect(part.headers.get("content-length")).toBe("100");
      expect(await bodyBytes(part)).toEqual(bytes.slice(100, 200));
      const head = await fetch(url, { method: "HEAD" });
      expect(head.headers.get("content-length")).toBe("1000");
      expect(head.headers.get("content-type")).toBe("audio/mpeg");
    } finally {
      server.stop(true);
    }
  });
});

/** Sends one request line byte for byte (fetch would normalize the path first) and returns the raw answer. */
async function rawGet(port: number, target: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  const { promise, resolve, reject } = Promise.withResolvers<string>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_s, d) => void chunks.push(d),
      close: () => resolve(Buffer.concat(chunks).toString("latin1")),
      error: (_s, e) => reject(e),
    },
  });
  socket.write(`GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  return promise;
}

describe("GET /media/<key> (S3 storage)", () => {
  let s3: S3rverHandle;
  const opened: Storage[] = [];
  beforeAll(async () => {
    s3 = await startS3rver();
  });
  afterAll(async () => {
    for (const s of opened) await s.close();
    await s3?.stop();
  });

  test("redirects to the presigned URL, which a plain fetch can read", async () => {
    const s = await createStorage({ driver: "s3", ...s3.options });
    opened.push(s);
    const key = newKey(["loops", "p3"], "mp3");
    await s.put(key, bytes);
    const routes = new Elysia().use(errorHandler(log)).use(mediaRoutes({ storage: s }));
    const res = await routes.handle(new Request(`http://localhost/media/${key}`));
    expect(res.status).toBe(302);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const location = res.headers.get("location")!;
    expect(location).toStartWith(`${s3.endpoint}/${s3.bucket}/${key}?`);
    const object = await fetch(location);
    expect(object.status).toBe(200);
    expect(object.headers.get("content-type")).toBe("audio/mpeg");
    expect(await bodyBytes(object)).toEqual(bytes);
  });

  test("with CDN_BASE_URL, redirects to the CDN; bad keys are still 404 here", async () => {
    const s = await createStorage({ driver: "s3", ...s3.options, cdnBaseUrl: "https://cdn.beats.example" });
    opened.push(s);
    const key = newKey(["loops", "p4"], "svg");
    const routes = new Elysia().use(errorHandler(log)).use(mediaRoutes({ storage: s }));
    const res = await routes.handle(new Request(`http://localhost/media/${key}`, { method: "HEAD" }));
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`https://cdn.beats.example/${key}`);
    const bad = await routes.handle(new Request("http://localhost/media/..%2fsecrets.json"));
    expect(bad.status).toBe(404);
    expect((await bad.json()).error).toBe("not_found");
  });
});

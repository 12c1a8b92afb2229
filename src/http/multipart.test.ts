// The streaming multipart reader of the upload routes: what it returns, and how it refuses.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiError } from "./errors.ts";
import { DiskFile, readMultipartToDisk, readUploadForm } from "./multipart.ts";

let dir: string;
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), "sc-multipart-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A multipart request as a browser or the plugin sends it; `chunked` drops the length (a stream body). */
async function formRequest(form: FormData, opts: { chunked?: boolean; chunk?: number } = {}): Promise<Request> {
  const encoded = new Response(form);
  const type = encoded.headers.get("content-type")!;
  const bytes = new Uint8Array(await encoded.arrayBuffer());
  if (!opts.chunked) return new Request("http://localhost/upload", { method: "POST", headers: { "content-type": type }, body: bytes });
  const size = opts.chunk ?? 64 * 1024;
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.subarray(at, (at += size)));
    },
  });
  return new Request("http://localhost/upload", { method: "POST", headers: { "content-type": type }, body });
}

async function refusal(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => null,
    (e) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

describe("readMultipartToDisk", () => {
  test("text fields come back as strings (repeated names as arrays), the file part as a file on disk with the same bytes", async () => {
    const audio = crypto.getRandomValues(new Uint8Array(300_000));
    const form = new FormData();
    form.set("filename", "Midnight chords ✨");
    form.append("genre", "lofi");
    form.append("genre", "jazz");
    form.set("audio_file", new Blob([audio]), "loop.wav");
    for (const chunked of [false, true]) {
      const out = await readMultipartToDisk(await formRequest(form, { chunked, chunk: 1000 }), dir, { maxBytes: 1_000_000 });
      expect(out.filename).toBe("Midnight chords ✨");
      expect(out.genre).toEqual(["lofi", "jazz"]);
      const file = out.audio_file as DiskFile;
      expect(file).toBeInstanceOf(DiskFile);
      expect(file.path.startsWith(dir)).toBe(true);
      expect(file.filename).toBe("loop.wav");
      expect(file.size).toBe(audio.length);
      expect(new Uint8Array(await file.blob().arrayBuffer())).toEqual(audio);
    }
  });

  test("a declared length over the limit is refused before reading; a chunked body as soon as it passes", async () => {
    const form = new FormData();
    form.set("audio_file", new Blob([new Uint8Array(200_000)]), "big.wav");
    let e = await refusal(readMultipartToDisk(await formRequest(form), dir, { maxBytes: 100_000 }));
    expect([e.status, e.code]).toEqual([413, "payload_too_large"]);
    expect(readdirSync(dir)).toEqual([]); // nothing was read, so nothing written
    e = await refusal(readMultipartToDisk(await formRequest(form, { chunked: true, chunk: 10_000 }), dir, { maxBytes: 100_000 }));
    expect([e.status, e.code]).toEqual([413, "payload_too_large"]);
  });

  test("bodies that are not well-formed multipart are 400 invalid_form", async () => {
    const garbage = new Request("http://localhost/upload", {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=xyz" },
      body: '--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\nno closing boundary',
    });
    let e = await refusal(readMultipartToDisk(garbage, dir, { maxBytes: 10_000 }));
    expect([e.status, e.code]).toEqual([400, "invalid_form"]);
    const noBoundary = new Request("http://localhost/upload", { method: "POST", headers: { "content-type": "multipart/form-data" }, body: "x" });
    e = await refusal(readMultipartToDisk(noBoundary, dir, { maxBytes: 10_000 }));
    expect([e.status, e.code]).toEqual([400, "invalid_form"]);
    const form = new FormData();
    form.set("filename", "x".repeat(20_000));
    e = await refusal(readMultipartToDisk(await formRequest(form), dir, { maxBytes: 100_000, maxFieldBytes: 1000 }));
    expect([e.status, e.code]).toEqual([400, "invalid_form"]);
    expect(e.message).toContain("filename");
  });

  test("readUploadForm: multipart only (415 otherwise), and no body at all is an empty form", async () => {
    const accepts = { kinds: ["multipart"] as const, maxBytes: 10_000, readInHandler: true };
    const json = new Request("http://localhost/upload", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    const e = await refusal(readUploadForm(json, { ...accepts, kinds: [...accepts.kinds] }, dir));
    expect([e.status, e.code]).toEqual([415, "unsupported_media_type"]);
    expect(await readUploadForm(new Request("http://localhost/upload", { method: "POST" }), { ...accepts, kinds: [...accepts.kinds] }, dir)).toEqual({});
  });
});

// Streaming multipart/form-data for the two upload routes (loops and profile pictures), written to disk as it
// arrives. Why not Bun's `Request.formData()`: it buffers the whole body, growing one buffer as it arrives, then
// parses it in a single native call on the main thread. Measured on a 24 MB upload (2 cores): the server answered
// nothing else for 100–230 ms while it read and parsed, and held the body twice in memory (docs/security.md,
// Request bodies). Here busboy (a streaming parser) hands over each part in chunks as they come off the socket; text
// fields are kept (small, bounded), file parts go straight into a file in the caller's private temp directory, so the
// event loop keeps serving between chunks and memory stays flat whatever the upload's size.
import busboy from "busboy";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { addField, bodyKind, type Declared } from "./body.ts";
import { ApiError, errors } from "./errors.ts";

/** A file part of a multipart body, stored at `path` (inside the temp directory the caller handed in). */
export class DiskFile {
  constructor(
    readonly path: string,
    readonly size: number,
    /** The client's file name: shown to nobody and never used in a storage key. */
    readonly filename: string,
    /** The client's declared type: informational only, content decides. */
    readonly type: string,
  ) {}
  /** The stored part as a Blob (read from disk when read). */
  blob(): Blob {
    return Bun.file(this.path, { type: this.type });
  }
}

export type MultipartLimits = {
  /** Largest body in bytes: a declared Content-Length above it is refused before reading, a chunked one when it passes. */
  maxBytes: number;
  /** File parts kept (later ones are skipped). */
  maxFiles?: number;
  /** Text fields kept, and the bytes of each. */
  maxFields?: number;
  maxFieldBytes?: number;
  /**
   * Called with the text fields read so far when a file part begins, before any of it is written: throwing an
   * ApiError refuses the request there (nothing of the file is kept, the rest of the body is not read). The web
   * upload checks its CSRF field here, which the form sends before the file.
   */
  beforeFile?: (fields: Record<string, unknown>) => void;
};

const tooLarge = (max: number) => errors.tooLarge(`The request body is larger than ${max} bytes`);
const badForm = (message = "The form body could not be parsed") => errors.badRequest("invalid_form", message);

/**
 * Reads a multipart body: text fields as strings (arrays for repeated names, like formToObject), file parts as
 * DiskFile in `dir`. The caller has already checked the Content-Type (body.ts readBody does for every route) and owns
 * `dir` (it removes it, with the files, when done). 413 payload_too_large past `maxBytes`, 400 invalid_form for a
 * body that is not well-formed multipart or a text field over its limit.
 */
export async function readMultipartToDisk(request: Request, dir: string, limits: MultipartLimits): Promise<Record<string, unknown>> {
  const { maxBytes, maxFiles = 3, maxFields = 50, maxFieldBytes = 16 * 1024 } = limits;
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) throw badForm("The form body is empty");

  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: { "content-type": request.headers.get("content-type") ?? "" },
      defParamCharset: "utf8",
      limits: { files: maxFiles, fields: maxFields, fieldSize: maxFieldBytes, parts: maxFiles + maxFields, headerPairs: 20 },
    });
  } catch {
    throw badForm("The multipart body has no boundary in its Content-Type");
  }

  const out: Record<string, unknown> = {};
  const add = (name: string, value: unknown) => addField(out, name, value);
  const written: Promise<void>[] = [];
  const sinks: ReturnType<typeof createWriteStream>[] = [];
  let failure: ApiError | null = null;
  let refused: ApiError | null = null;
  let files = 0;

  const parsed = new Promise<void>((resolve, reject) => {
    bb.on("field", (name, value, info) => {
      if (info.valueTruncated) failure ??= badForm(`The form field ${name.slice(0, 40)} is longer than ${maxFieldBytes} bytes`);
      else add(name, value);
    });
    bb.on("file", (name, stream, info) => {
      try {
        if (!refused) limits.beforeFile?.(out);
      } catch (err) {
        refused = err instanceof ApiError ? err : badForm();
      }
      if (refused) {
        // Drained, never written; it errors when the parser is torn down below.
        stream.on("error", () => undefined);
        return void stream.resume();
      }
      const path = join(dir, `part-${files++}`);
      const sink = createWriteStream(path);
      sinks.push(sink);
      let size = 0;
      stream.on("data", (chunk: Buffer) => void (size += chunk.length));
      const finished = new Promise<void>((done, fail) => {
        sink.on("finish", () => {
          add(name, new DiskFile(path, size, info.filename ?? "", info.mimeType ?? ""));
          done();
        });
        sink.on("error", fail);
        stream.on("error", fail);
      });
      finished.catch(() => undefined); // awaited below, unless the body already failed
      written.push(finished);
      stream.pipe(sink);
    });
    bb.on("close", resolve);
    bb.on("error", reject);
  });
  parsed.catch(() => undefined); // awaited below; an early 413 must not leave it unhandled

  const reader = request.body.getReader();
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw tooLarge(maxBytes);
      // Backpressure: wait for the parser (and through it the file writes) before reading more off the socket.
      if (!bb.write(value)) await Promise.race([new Promise((r) => bb.once("drain", r)), parsed]);
      if (refused) throw refused;
    }
    bb.end();
    await parsed;
    if (refused) throw refused;
    await Promise.all(written);
  } catch (err) {
    await reader.cancel().catch(() => undefined);
    bb.destroy();
    // The caller removes `dir`; the half-written files only need their descriptors closed.
    for (const sink of sinks) sink.destroy();
    if (err instanceof ApiError) throw err;
    throw badForm();
  }
  if (failure) throw failure;
  return out;
}

/**
 * The body of an upload route (`accepts` with `readInHandler`), read by its handler once the guard and the rate limit
 * have passed: 415 for anything but multipart, {} for no body at all, else readMultipartToDisk into `dir`.
 */
export async function readUploadForm(
  request: Request,
  accepts: Declared,
  dir: string,
  beforeFile?: MultipartLimits["beforeFile"],
): Promise<Record<string, unknown>> {
  if (!bodyKind(request, accepts)) return {};
  return readMultipartToDisk(request, dir, { maxBytes: accepts.maxBytes, beforeFile });
}

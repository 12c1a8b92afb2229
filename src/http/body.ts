// Request bodies are read with a byte cap while they stream, so a body without Content-Length (chunked) can never
// be buffered past the limit. Elysia's built-in parsers read the whole body first; this replaces them.
import { errors } from "./errors.ts";

/** Reads the whole body, failing with 413 as soon as more than `max` bytes have arrived. */
export async function readCapped(request: Request, max: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > max) throw errors.tooLarge(`The request body is larger than ${max} bytes`);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw errors.tooLarge(`The request body is larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** FormData → plain object the way route schemas expect it: one value per key, arrays for repeated keys. */
export function formToObject(form: FormData): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of form.entries()) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** Parses any body we accept: JSON (an empty body counts as {}), urlencoded and multipart forms, text. */
export async function parseBody(request: Request, contentType: string, max: number): Promise<unknown> {
  const bytes = await readCapped(request, max);
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  if (type === "application/json" || type.endsWith("+json")) {
    const text = new TextDecoder().decode(bytes);
    // The plugin sends Content-Type: application/json on requests with no body: that is an empty object.
    if (!text.trim()) return {};
    try {
      return JSON.parse(text);
    } catch {
      throw errors.badRequest("invalid_json", "The request body is not valid JSON");
    }
  }
  if (type === "multipart/form-data" || type === "application/x-www-form-urlencoded") {
    try {
      const form = await new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { "content-type": contentType } }).formData();
      return formToObject(form);
    } catch {
      throw errors.badRequest("invalid_form", "The form body could not be parsed");
    }
  }
  return new TextDecoder().decode(bytes);
}

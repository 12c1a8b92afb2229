// HTTP range and validator rules for serving media (RFC 9110 §13-14), pure so they are tested without a server.
// Bun.serve does not do this for us when the body comes from a storage driver, and the rules are few.
import type { ByteRange } from "../storage/index.ts";

/**
 * Reads a `Range` header against an object of `size` bytes:
 * - a range to serve (inclusive, end clamped to the last byte);
 * - "unsatisfiable" (416): start past the end, an empty suffix (`bytes=-0`), or any range of an empty object;
 * - null: no header, not `bytes`, malformed, or several ranges. RFC 9110 lets a server ignore such a header and
 *   answer 200 with the whole object, which is what we do (multipart/byteranges is not worth it for loops).
 */
export function parseRange(header: string | null, size: number): ByteRange | "unsatisfiable" | null {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return null;
  const [, first, last] = m as unknown as [string, string, string];
  if (first === "" && last === "") return null;
  if (first === "") {
    // Suffix range: the last N bytes.
    const n = Number(last);
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (last !== "" && Number(last) < start) return null; // invalid range-spec: ignored
  if (start >= size) return "unsatisfiable";
  return { start, end: last === "" ? size - 1 : Math.min(Number(last), size - 1) };
}

const tags = (header: string) =>
  header
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
const opaque = (tag: string) => tag.replace(/^W\//, "");

/** If-None-Match uses the weak comparison: `W/"x"` matches `"x"`; `*` matches any existing object. */
export function noneMatch(header: string | null, etag: string): boolean {
  if (!header) return false;
  return tags(header).some((t) => t === "*" || opaque(t) === opaque(etag));
}

/** If-Range uses the strong comparison: the range is served only for the exact, non-weak entity tag. */
export function rangeStillValid(ifRange: string | null, etag: string): boolean {
  if (ifRange === null) return true;
  const t = ifRange.trim();
  // An HTTP date instead of a tag: we have no Last-Modified to compare with, so send the whole object.
  return !t.startsWith("W/") && !etag.startsWith("W/") && t === etag;
}

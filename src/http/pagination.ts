// Pagination (docs/plugin-contract.md "Pagination"): `limit` (default 20, max 100) and either `offset` (the plugin) or an
// opaque `cursor` (preferred: keyset over (created_at, id), stable while new rows arrive).
import { t } from "elysia";
import { errors } from "./errors.ts";

export const PageQuery = t.Object({
  limit: t.Optional(t.String({ description: "1–100, default 20" })),
  offset: t.Optional(t.String({ description: "rows to skip (plugin); prefer cursor" })),
  cursor: t.Optional(t.String({ description: "opaque: meta.next_cursor of the previous page" })),
});

export const PageMeta = t.Object({
  count: t.Integer(),
  has_more: t.Boolean(),
  next_cursor: t.String({ description: "empty when there is no next page" }),
});

export type Cursor = { createdAt: number; id: string };
export type Page = { limit: number; offset: number; before?: Cursor };

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.createdAt, c.id])).toString("base64url");
}

export function decodeCursor(s: string): Cursor {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
    if (Number.isSafeInteger(createdAt) && typeof id === "string" && id.length <= 64) return { createdAt, id };
  } catch {
    /* fall through */
  }
  throw errors.validation({ cursor: "Not a cursor this server gave out" });
}

function intParam(name: string, raw: string | undefined, min: number, max: number, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw errors.validation({ [name]: `Must be a whole number from ${min} to ${max}` });
  const n = Number(raw);
  if (n < min || n > max) throw errors.validation({ [name]: `Must be from ${min} to ${max}` });
  return n;
}

export function parsePage(q: { limit?: string; offset?: string; cursor?: string }): Page {
  const limit = intParam("limit", q.limit, 1, 100, 20);
  const offset = intParam("offset", q.offset, 0, 1_000_000, 0);
  if (q.cursor && offset) throw errors.validation({ cursor: "Use either cursor or offset, not both" });
  return { limit, offset, before: q.cursor ? decodeCursor(q.cursor) : undefined };
}

/** Cuts the extra row fetched to learn has_more and builds the meta object. */
export function pageOf<T>(rows: T[], page: Page, cursorOf: (row: T) => Cursor) {
  const has_more = rows.length > page.limit;
  const items = has_more ? rows.slice(0, page.limit) : rows;
  const last = items.at(-1);
  return { items, meta: { count: items.length, has_more, next_cursor: has_more && last ? encodeCursor(cursorOf(last)) : "" } };
}

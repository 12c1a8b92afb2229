// Pagination (docs/plugin-contract.md "Pagination"): `limit` (default 20, max 100) and either `offset` (the plugin) or an
// opaque `cursor` (preferred: keyset over (created_at, id), stable while new rows arrive).
import { t } from "elysia";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { errors, validationFields } from "./errors.ts";

/**
 * A whole number as a query string, leading zeros allowed; "" or absent means the default. The pattern is the rule:
 * Elysia checks it on the route, parsePage with the same schema, and the OpenAPI document shows it. `error` is the
 * field's message in a validation_error (validationFields in src/http/errors.ts).
 */
const wholeNumber = (pattern: string, range: string, description: string) =>
  t.Optional(t.String({ pattern: `^(0*(${pattern}))?$`, description, error: `Must be a whole number from ${range}` }));

export const PageQuery = t.Object({
  limit: wholeNumber("[1-9][0-9]?|100", "1 to 100", "1–100, default 20"),
  offset: wholeNumber("[0-9]{1,6}|1000000", "0 to 1000000", "rows to skip (plugin); prefer cursor"),
  cursor: t.Optional(t.String({ description: "opaque: meta.next_cursor of the previous page" })),
});
const checkPageQuery = TypeCompiler.Compile(PageQuery);

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

/** The page a query asks for; 400 validation_error for a query PageQuery refuses, a bad cursor, or cursor with offset. */
export function parsePage(q: { limit?: string; offset?: string; cursor?: string }): Page {
  if (!checkPageQuery.Check(q)) throw errors.validation(validationFields({ all: [...checkPageQuery.Errors(q)] }));
  const limit = q.limit ? Number(q.limit) : 20;
  const offset = q.offset ? Number(q.offset) : 0;
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

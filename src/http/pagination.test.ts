import { expect, test } from "bun:test";
import { ApiError } from "./errors.ts";
import { decodeCursor, encodeCursor, pageOf, parsePage } from "./pagination.ts";

const fails = (f: () => unknown, field: string) => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect(Object.keys((err as ApiError).fields ?? {})).toEqual([field]);
    return;
  }
  throw new Error("did not fail");
};

test("limit defaults to 20, stays within 1..100, and must be a number", () => {
  expect(parsePage({})).toEqual({ limit: 20, offset: 0, before: undefined });
  expect(parsePage({ limit: "100", offset: "40" })).toMatchObject({ limit: 100, offset: 40 });
  fails(() => parsePage({ limit: "10000" }), "limit");
  fails(() => parsePage({ limit: "abc" }), "limit");
  fails(() => parsePage({ limit: "0" }), "limit");
  fails(() => parsePage({ offset: "-1" }), "offset");
});

test("cursors round-trip, and a malformed or mixed cursor is a validation error", () => {
  const c = { createdAt: 1764100000000, id: "01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b" };
  expect(decodeCursor(encodeCursor(c))).toEqual(c);
  expect(parsePage({ cursor: encodeCursor(c) }).before).toEqual(c);
  fails(() => decodeCursor("not-a-cursor"), "cursor");
  fails(() => decodeCursor(Buffer.from(JSON.stringify(["x", 1])).toString("base64url")), "cursor");
  fails(() => parsePage({ cursor: encodeCursor(c), offset: "5" }), "cursor");
});

test("pageOf cuts the extra row and points the next cursor at the last item", () => {
  const rows = [1, 2, 3].map((i) => ({ createdAt: 1000 - i, id: `id${i}` }));
  const page = pageOf(rows, { limit: 2, offset: 0 }, (r) => r);
  expect(page.items).toHaveLength(2);
  expect(page.meta).toEqual({ count: 2, has_more: true, next_cursor: encodeCursor(rows[1]!) });
  expect(pageOf(rows.slice(0, 2), { limit: 2, offset: 0 }, (r) => r).meta).toEqual({ count: 2, has_more: false, next_cursor: "" });
});

test("the schema is the rule: leading zeros and empty values pass, the message names the range", () => {
  expect(parsePage({ limit: "007", offset: "", cursor: "" })).toEqual({ limit: 7, offset: 0, before: undefined });
  expect(parsePage({ limit: "", offset: "1000000" })).toMatchObject({ limit: 20, offset: 1_000_000 });
  fails(() => parsePage({ offset: "1000001" }), "offset");
  fails(() => parsePage({ limit: "1.5" }), "limit");
  const err = (() => {
    try {
      parsePage({ limit: "101" });
    } catch (e) {
      return e as ApiError;
    }
  })();
  expect(err?.code).toBe("validation_error");
  expect(err?.fields).toEqual({ limit: "Must be a whole number from 1 to 100" });
});

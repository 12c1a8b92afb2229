import { expect, test } from "bun:test";
import { Lru } from "./lru.ts";

test("holds at most max entries: the least recently used goes first", () => {
  const lru = new Lru<string, number>(2);
  lru.set("a", 1).set("b", 2);
  expect(lru.get("a")).toBe(1); // a is now the most recent
  lru.set("c", 3); // b goes
  expect([lru.has("a"), lru.has("b"), lru.has("c")]).toEqual([true, false, true]);
  expect(lru.size).toBe(2);
});

test("has() is not a use; set() of a held key refreshes it without growing", () => {
  const lru = new Lru<string, number>(2);
  lru.set("a", 1).set("b", 2);
  expect(lru.has("a")).toBe(true); // does not save a
  lru.set("c", 3);
  expect(lru.has("a")).toBe(false);
  lru.set("b", 20); // b is now the most recent, c the least
  lru.set("d", 4);
  expect([lru.get("b"), lru.get("c"), lru.get("d"), lru.size]).toEqual([20, undefined, 4, 2]);
});

test("values that are null or undefined are held like any other", () => {
  const lru = new Lru<string, string | null | undefined>(3);
  lru.set("n", null).set("u", undefined);
  expect([lru.has("n"), lru.get("n"), lru.has("u"), lru.get("u"), lru.has("x")]).toEqual([true, null, true, undefined, false]);
});

test("delete and clear", () => {
  const lru = new Lru<number, string>(4);
  lru.set(1, "a").set(2, "b");
  expect([lru.delete(1), lru.delete(1), lru.size]).toEqual([true, false, 1]);
  lru.clear();
  expect(lru.size).toBe(0);
});

test("a size under one is refused", () => {
  expect(() => new Lru(0)).toThrow(RangeError);
  expect(() => new Lru(Number.NaN)).toThrow(RangeError);
});

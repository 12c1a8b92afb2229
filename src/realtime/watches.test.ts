import { describe, expect, test } from "bun:test";
import { createWatches, WATCH_MAX_PER_FRAME } from "./watches.ts";

describe("watches", () => {
  test("watching: ids cleaned and capped per frame, answered oldest first, re-watching moves to the end", () => {
    const w = createWatches({ ttlMs: 1000 });
    expect(w.watch("u", ["loop:p1", "p2", 3, "", "x".repeat(65), "p1"], 0)).toEqual(["p1", "p2", "p1"]);
    expect(w.of("u")).toEqual(["p2", "p1"]);
    const many = Array.from({ length: 150 }, (_, i) => `m${i}`);
    expect(w.watch("v", many, 0)).toHaveLength(WATCH_MAX_PER_FRAME);
    expect(w.of("nobody")).toEqual([]);
  });

  test("per-user cap drops the oldest", () => {
    const w = createWatches({ ttlMs: 1000, maxPerUser: 2 });
    w.watch("u", ["a", "b", "c"], 0);
    expect(w.of("u")).toEqual(["b", "c"]);
    expect(w.recipients("a", 0)).toEqual([]);
  });

  test("recipients until the watch expires; sweep, unwatch and forget drop watches", () => {
    const w = createWatches({ ttlMs: 1000 });
    w.watch("u", ["p"], 0);
    w.watch("v", ["p", "q"], 500);
    expect(w.recipients("p", 999)).toEqual(["u", "v"]);
    expect(w.recipients("p", 1000)).toEqual(["v"]); // u's expired, dropped on the way
    expect(w.of("u")).toEqual([]);
    w.sweep(1500);
    expect(w.of("v")).toEqual([]);
    w.watch("v", ["p", "q", "r"], 2000);
    w.unwatch("v", ["loop:p", 7]);
    expect(w.of("v")).toEqual(["q", "r"]);
    w.forget("v");
    expect(w.of("v")).toEqual([]);
    expect(w.recipients("q", 2000)).toEqual([]);
  });
});

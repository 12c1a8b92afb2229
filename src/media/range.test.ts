import { describe, expect, test } from "bun:test";
import { noneMatch, parseRange, rangeStillValid } from "./range.ts";

describe("parseRange", () => {
  test("first bytes, middle, open-ended and suffix ranges", () => {
    expect(parseRange("bytes=0-99", 1000)).toEqual({ start: 0, end: 99 });
    expect(parseRange("bytes=100-199", 1000)).toEqual({ start: 100, end: 199 });
    expect(parseRange("bytes=900-", 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange("bytes=-100", 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange("Bytes = 5 - 5", 1000)).toEqual({ start: 5, end: 5 });
  });

  test("ends past the object are clamped; a suffix longer than the object is the whole object", () => {
    expect(parseRange("bytes=990-5000", 1000)).toEqual({ start: 990, end: 999 });
    expect(parseRange("bytes=-5000", 1000)).toEqual({ start: 0, end: 999 });
    expect(parseRange("bytes=0-99999999999999999999999", 10)).toEqual({ start: 0, end: 9 });
  });

  test("unsatisfiable: start past the end, empty suffix, any range of an empty object", () => {
    expect(parseRange("bytes=1000-", 1000)).toBe("unsatisfiable");
    expect(parseRange("bytes=1000-2000", 1000)).toBe("unsatisfiable");
    expect(parseRange("bytes=99999999999999999999-", 1000)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 1000)).toBe("unsatisfiable");
    expect(parseRange("bytes=0-", 0)).toBe("unsatisfiable");
    expect(parseRange("bytes=-1", 0)).toBe("unsatisfiable");
  });

  test("ignored (whole object): absent, other units, malformed, reversed, several ranges", () => {
    for (const h of [null, "", "items=0-1", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1", "bytes=0-1,5-6", "bytes=--1", "bytes=1.5-2"]) {
      expect(parseRange(h, 1000)).toBeNull();
    }
  });
});

describe("validators", () => {
  test("If-None-Match: weak comparison, lists and *", () => {
    expect(noneMatch('"abc"', '"abc"')).toBe(true);
    expect(noneMatch('W/"abc"', '"abc"')).toBe(true);
    expect(noneMatch('"x", "abc"', '"abc"')).toBe(true);
    expect(noneMatch("*", '"abc"')).toBe(true);
    expect(noneMatch('"abcd"', '"abc"')).toBe(false);
    expect(noneMatch(null, '"abc"')).toBe(false);
  });

  test("If-Range: only the exact strong tag keeps the range", () => {
    expect(rangeStillValid(null, '"abc"')).toBe(true);
    expect(rangeStillValid('"abc"', '"abc"')).toBe(true);
    expect(rangeStillValid('W/"abc"', '"abc"')).toBe(false);
    expect(rangeStillValid('"old"', '"abc"')).toBe(false);
    expect(rangeStillValid("Wed, 21 Oct 2015 07:28:00 GMT", '"abc"')).toBe(false);
  });
});

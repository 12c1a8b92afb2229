import { describe, expect, test } from "bun:test";
import { MEDIA_EXTENSIONS, StorageKeyError, assertValidPrefix, contentTypeOf, isValidKey, keyPrefix, newKey, resolveContentType } from "./keys.ts";

describe("newKey", () => {
  test("builds <dirs>/<128 random bits>.<ext> and never repeats", () => {
    const key = newKey(["loops", "01JD8Z3K4M5N6P7Q8R9S0T1V2W"], "mp3");
    expect(key).toMatch(/^loops\/01JD8Z3K4M5N6P7Q8R9S0T1V2W\/[0-9a-f]{32}\.mp3$/);
    expect(isValidKey(key)).toBe(true);
    const many = new Set(Array.from({ length: 1000 }, () => newKey(["loops", "p"], "json")));
    expect(many.size).toBe(1000);
  });

  test("takes an optional label for people reading the bucket", () => {
    expect(newKey(["loops", "p"], "wav", "original")).toMatch(/^loops\/p\/[0-9a-f]{32}-original\.wav$/);
  });

  test("refuses segments, labels and extensions that are not ours", () => {
    for (const dirs of [[], ["..", "x"], ["loops", "a/b"], ["loops", ".hidden"], ["loops", "a b"], ["loops", "é"], ["a", "b", "c", "d", "e", "f", "g"]]) {
      expect(() => newKey(dirs, "mp3")).toThrow(StorageKeyError);
    }
    expect(() => newKey(["loops"], "mp3", "../x")).toThrow(StorageKeyError);
    expect(() => newKey(["loops"], "exe" as "mp3")).toThrow(StorageKeyError);
  });
});

describe("key validation", () => {
  test("accepts server-shaped keys", () => {
    for (const k of ["loops/p/abc.mp3", "avatars/u_1/x-y.webp", "a/b/c/d/e/f/g.json"]) expect(isValidKey(k)).toBe(true);
  });

  test("refuses traversal, absolute paths, odd bytes and unknown types", () => {
    const bad = [
      "",
      "a.mp3",
      "/loops/a.mp3",
      "loops/a.mp3/",
      "loops//a.mp3",
      "loops/../a.mp3",
      "loops/./a.mp3",
      "../loops/a.mp3",
      "loops/..",
      "loops/.hidden.mp3",
      "loops/a..mp3",
      "loops/a.b.mp3",
      "loops\\a.mp3",
      "loops/a%2e.mp3",
      "loops/a\0.mp3",
      "loops/a .mp3",
      "loops/\u00e9.mp3",
      "loops/a.MP3",
      "loops/a.exe",
      "loops/a",
      "loops/a.mp3\n",
      "-/a.mp3",
      "a/b/c/d/e/f/g/h.mp3",
      `loops/${"a".repeat(600)}.mp3`,
      42,
      null,
      undefined,
    ];
    for (const k of bad) expect(isValidKey(k)).toBe(false);
  });

  test("prefixes are whole directories", () => {
    expect(keyPrefix(["loops", "p"])).toBe("loops/p/");
    for (const p of ["", "/", "loops", "loops/p", "/loops/", "../", "loops//", "loops/../"]) {
      expect(() => assertValidPrefix(p)).toThrow(StorageKeyError);
    }
  });
});

describe("content types", () => {
  test("come from the key's extension", () => {
    expect(contentTypeOf("loops/p/a.mp3")).toBe("audio/mpeg");
    expect(contentTypeOf("loops/p/a.json")).toBe("application/json");
    expect(contentTypeOf("loops/p/a.svg")).toBe("image/svg+xml");
    expect(contentTypeOf("loops/p/a.aiff")).toBe("audio/aiff");
    for (const ext of MEDIA_EXTENSIONS) expect(contentTypeOf(`x/y.${ext}`)).toMatch(/^[a-z]+\/[a-z0-9.+-]+$/);
  });

  test("a put may repeat the type but not contradict it", () => {
    expect(resolveContentType("loops/p/a.mp3")).toBe("audio/mpeg");
    expect(resolveContentType("loops/p/a.mp3", "Audio/MPEG")).toBe("audio/mpeg");
    expect(resolveContentType("loops/p/a.json", "application/json; charset=utf-8")).toBe("application/json");
    expect(() => resolveContentType("loops/p/a.svg", "text/html")).toThrow(StorageKeyError);
  });
});

// The search text as FTS5 sees it (only quoted strings, whatever was typed), the key families, and the checks of a
// loop search's query string. What these expressions find on a real index is tested in test/api/search.test.ts.
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { ftsExpression, keyFamily, LOOP_PREFIX_MAX, parseLoopSearch, parsePrefix } from "./query.ts";

test("each word is one quoted string; the last a prefix when 2 to maxPrefix characters long", () => {
  expect(ftsExpression("night drive")).toBe('"night" AND "drive"*');
  expect(ftsExpression('say "hi" NEAR(x')).toBe('"say" AND """hi""" AND "NEAR(x"*');
  expect(ftsExpression("a")).toBe('"a"');
  expect(ftsExpression("midnight", { maxPrefix: LOOP_PREFIX_MAX })).toBe('"midnight"');
  expect(ftsExpression("midni", { maxPrefix: LOOP_PREFIX_MAX })).toBe('"midni"*');
  expect(ftsExpression("bob mar", { prefix: "all" })).toBe('"bob"* AND "mar"*');
  expect(ftsExpression("tech house", { prefix: "none", columns: ["genres"] })).toBe('{genres} : ("tech" AND "house")');
  // Nothing searchable: no expression at all.
  for (const q of ["", "   ", "*", '" "', "- : ^", "🎵", "\u0301"]) expect(ftsExpression(q)).toBe("");
  // At most MAX_TERMS words.
  expect(ftsExpression("a b c d e f g h i j").split(" AND ").length).toBe(8);
});

test("whatever is typed, the expression is valid FTS5 (never a syntax error)", () => {
  const db = new Database(":memory:");
  db.run("CREATE VIRTUAL TABLE t USING fts5(a, b, prefix='2 3 4 5')");
  db.run("INSERT INTO t VALUES ('Night Drive', 'lofi')");
  const nasty = ['"', '""', "*", "NEAR(", "NEAR(a b, 2)", "a OR b", "NOT", "a:b", "{a}: x", "^x", "(", ")", "x' OR 1=1 --", "AND AND", "\0x"];
  for (const q of nasty) {
    const expr = ftsExpression(`${q} night`);
    expect(() => db.query("SELECT count(*) FROM t WHERE t MATCH ?").all(expr)).not.toThrow();
  }
  expect(db.query("SELECT count(*) AS n FROM t WHERE t MATCH ?").get(ftsExpression("nig")) as { n: number }).toEqual({ n: 1 });
  db.close();
});

test("a key finds its spellings and, unless told not to, its relative major/minor", () => {
  expect(keyFamily("Am", false)).toEqual(["Am"]);
  expect(keyFamily("A minor", true)?.sort()).toEqual(["Am", "B#", "C"].sort());
  expect(keyFamily("F#m", false)?.sort()).toEqual(["F#m", "Gbm"]);
  expect(keyFamily("8B", true)?.sort()).toEqual(["Am", "B#", "C"].sort());
  expect(keyFamily("Eb", true)?.sort()).toEqual(["Cm", "B#m", "D#", "Eb"].sort());
  expect(keyFamily("H minor", true)).toBeUndefined();
});

test("a loop search's query string: ranges, key, text, and one 400 naming every bad field", () => {
  const s = parseLoopSearch({ q: "night", bpm_min: "90.5", bpm_max: "120", key: "Am", relative: "false", genre: " House ", daw: "Bitwig" });
  expect(s.filters).toEqual({ bpmMin: 90.5, bpmMax: 120, keys: '["Am"]', genre: "House", daw: "Bitwig", durationMin: null, durationMax: null });
  expect(s.match).toBe('"night"* AND {genres} : ("House")');
  expect(parseLoopSearch({ q: "***" })).toEqual({ match: "", hasText: true, filters: expect.any(Object) });
  expect(parseLoopSearch({ q: "", key: "C" }).hasText).toBe(false);
  try {
    parseLoopSearch({ q: "x", bpm_min: "200", bpm_max: "100", duration_min: "x", key: "nope", relative: "sometimes", daw: "d".repeat(51) });
    throw new Error("accepted");
  } catch (err) {
    expect((err as { fields?: Record<string, string> }).fields).toEqual({
      bpm_max: "Must not be below bpm_min",
      duration_min: "Must be a number from 0 to 3600",
      key: "Not a key (e.g. Am, F# major, 8A)",
      relative: "Must be true or false",
      daw: "At most 50 characters",
    });
  }
  expect(() => parseLoopSearch({})).toThrow();
  expect(() => parsePrefix(" ")).toThrow();
  expect(() => parsePrefix("x".repeat(201))).toThrow();
  expect(parsePrefix(" lo ")).toBe("lo");
});

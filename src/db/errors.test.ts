import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { isUniqueViolation } from "./errors.ts";

describe("isUniqueViolation", () => {
  const db = new Database(":memory:");
  db.run("CREATE TABLE u (id TEXT PRIMARY KEY, name TEXT UNIQUE, n INTEGER NOT NULL)");
  db.run("INSERT INTO u VALUES ('a', 'x', 1)");
  const caught = (sql: string) => {
    try {
      db.run(sql);
    } catch (err) {
      return err;
    }
    throw new Error("expected the statement to fail");
  };

  test("a real UNIQUE violation, on the named column or any", () => {
    const err = caught("INSERT INTO u VALUES ('b', 'x', 1)");
    expect(isUniqueViolation(err)).toBe(true);
    expect(isUniqueViolation(err, "u.name")).toBe(true);
    expect(isUniqueViolation(err, "email")).toBe(false);
  });

  test("a primary-key clash, and one wrapped as drizzle wraps driver errors", () => {
    const err = caught("INSERT INTO u VALUES ('a', 'y', 1)");
    expect(isUniqueViolation(err)).toBe(true);
    expect(isUniqueViolation(new Error("Failed query: insert ...", { cause: err }), "u.id")).toBe(true);
  });

  test("other failures are not", () => {
    expect(isUniqueViolation(caught("INSERT INTO u VALUES ('c', 'z', NULL)"))).toBe(false);
    expect(isUniqueViolation(undefined)).toBe(false);
    expect(isUniqueViolation("UNIQUE as a plain string")).toBe(true);
    expect(isUniqueViolation(new Error("timeout"))).toBe(false);
  });
});

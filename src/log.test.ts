import { expect, test } from "bun:test";
import { childLogger, createLogger, errorFields, errorMessage } from "./log.ts";

test("the logger writes one JSON object per line at or above its level", () => {
  const lines: string[] = [];
  const log = createLogger("info", (l) => lines.push(l));
  log.debug("hidden");
  log.info("shown", { a: 1 });
  log.warn("warned");
  log.error("failed", { b: "x" });
  expect(lines).toHaveLength(3);
  const first = JSON.parse(lines[0]!);
  expect(first).toMatchObject({ level: "info", msg: "shown", a: 1 });
  expect(new Date(first.time).getTime()).toBeGreaterThan(0);
  expect(JSON.parse(lines[2]!)).toMatchObject({ level: "error", msg: "failed", b: "x" });
});

test("childLogger adds its fields to every line; a call's own fields win, and children nest", () => {
  const lines: string[] = [];
  const log = createLogger("debug", (l) => lines.push(l));
  const job = childLogger(log, { job_id: "j1", job_type: "send-mail" });
  job.debug("started");
  job.info("progress", { pct: 50 });
  job.warn("retry", { job_type: "overridden" });
  childLogger(job, { mail_id: "m1" }).error("failed", { attempt: 2 });
  const parsed = lines.map((l) => JSON.parse(l));
  expect(parsed.map((l) => [l.level, l.msg])).toEqual([
    ["debug", "started"],
    ["info", "progress"],
    ["warn", "retry"],
    ["error", "failed"],
  ]);
  expect(parsed[0]).toMatchObject({ job_id: "j1", job_type: "send-mail" });
  expect(parsed[1]).toMatchObject({ job_id: "j1", pct: 50 });
  expect(parsed[2]).toMatchObject({ job_id: "j1", job_type: "overridden" });
  expect(parsed[3]).toMatchObject({ job_id: "j1", job_type: "send-mail", mail_id: "m1", attempt: 2 });
  // The parent is unchanged, and the child keeps the parent's level.
  log.info("plain");
  expect(JSON.parse(lines[4]!)).not.toHaveProperty("job_id");
  childLogger(
    createLogger("warn", (l) => lines.push(l)),
    { a: 1 },
  ).info("below the level");
  expect(lines).toHaveLength(5);
});

test("errorFields: name and message in `error`, code and cause when there, the stack only when asked", () => {
  const err = Object.assign(new TypeError("x is undefined"), { code: "E_BUG" });
  expect(errorFields(err)).toEqual({ error: "TypeError: x is undefined", error_code: "E_BUG" });
  const withStack = errorFields(err, { stack: true });
  expect(withStack.error_stack).toBeString();
  expect(String(withStack.error_stack)).toContain("x is undefined");
  expect(errorFields(new Error("hook threw"))).toEqual({ error: "Error: hook threw" });
  expect(errorFields(new Error(""))).toEqual({ error: "Error" });
  expect(errorFields(new Error("query failed", { cause: Object.assign(new Error("busy"), { name: "SQLiteError" }) }))).toEqual({
    error: "Error: query failed",
    error_cause: "SQLiteError: busy",
  });
  expect(errorFields(new Error("wrapped", { cause: "a string" })).error_cause).toBe("a string");
  // Things thrown that are not Errors: a message-carrying object, a string, anything else as JSON.
  expect(errorFields({ message: "rejected", code: 503 })).toEqual({ error: "Error: rejected", error_code: 503 });
  expect(errorFields("plain text")).toEqual({ error: "plain text" });
  expect(errorFields({ status: 500 })).toEqual({ error: '{"status":500}' });
  expect(errorFields(undefined)).toEqual({ error: "undefined" });
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  expect(errorFields(circular)).toEqual({ error: "[object Object]" });
  // A stack asked for but missing is left out.
  expect(errorFields({ message: "no stack" }, { stack: true })).toEqual({ error: "Error: no stack" });
});

test("errorMessage is the text of a stored reason: the message alone, else the name, a string or JSON", () => {
  expect(errorMessage(new RangeError("too big"))).toBe("too big");
  expect(errorMessage(Object.assign(new Error(""), { name: "JobLeaseLostError" }))).toBe("JobLeaseLostError");
  expect(errorMessage({ message: "" })).toBe("Error");
  expect(errorMessage("said no")).toBe("said no");
  expect(errorMessage(42)).toBe("42");
  expect(errorMessage(10n)).toBe("10");
});

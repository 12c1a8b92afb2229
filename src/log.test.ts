import { expect, test } from "bun:test";
import { createLogger } from "./log.ts";

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

// Temp directories left by a killed process are removed at start; recent ones (a live job's) and anything else in
// the temp dir are left alone.
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sweepStaleTempDirs, TEMP_PREFIX } from "./ffmpeg.ts";

test("only stale sidechain-audio-* directories are removed", async () => {
  const root = mkdtempSync(join(tmpdir(), "sc-sweep-"));
  const now = Date.now();
  const make = (name: string, ageMs: number) => {
    const dir = join(root, name);
    mkdirSync(dir);
    writeFileSync(join(dir, "input.f32"), "x");
    utimesSync(dir, (now - ageMs) / 1000, (now - ageMs) / 1000);
    return dir;
  };
  const stale = make(`${TEMP_PREFIX}old`, 2 * 3600_000);
  const live = make(`${TEMP_PREFIX}live`, 60_000);
  const other = make("someone-elses", 2 * 3600_000);
  expect(await sweepStaleTempDirs(root, 3600_000, now)).toBe(1);
  expect(existsSync(stale)).toBe(false);
  expect(existsSync(live)).toBe(true);
  expect(existsSync(other)).toBe(true);
  expect(await sweepStaleTempDirs(join(root, "missing"), 1, now)).toBe(0);
});

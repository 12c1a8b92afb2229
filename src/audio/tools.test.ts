// The audio tools check against the real ffmpeg and ffprobe the suite uses, and against broken ones: missing, not
// ffmpeg at all, and a real ffmpeg whose listings lack what the pipeline needs (a build without libvorbis or ebur128).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shellScript } from "../../test/support/audio.ts";
import { resolveBinaries } from "./ffmpeg.ts";
import { AUDIO_NEEDS, cachedAudioTools, checkAudioTools, compareReleases, parseVersion, releaseOf } from "./tools.ts";

const root = mkdtempSync(join(tmpdir(), "sc-tools-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const script = (name: string, body: string) => shellScript(root, name, body);
const real = resolveBinaries();

describe("checkAudioTools", () => {
  test("the suite's ffmpeg and ffprobe have everything the pipeline needs", async () => {
    const report = await checkAudioTools(real);
    expect(report).toMatchObject({ ok: true, problems: [], ffmpeg: { path: real.ffmpeg }, ffprobe: { path: real.ffprobe } });
    expect(report.ffmpeg.version).toBeTruthy();
    expect(report.ffprobe.version).toBeTruthy();
  });

  test("an ffmpeg built without libvorbis and ebur128 is named for what it lacks", async () => {
    const crippled = script("ffmpeg-crippled", `"${real.ffmpeg}" "$@" | grep -v -e ' libvorbis ' -e ' ebur128 '`);
    const report = await checkAudioTools({ ffmpeg: crippled, ffprobe: real.ffprobe });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(["ffmpeg lacks encoder libvorbis", "ffmpeg lacks filter ebur128"]);
  });

  test("missing, failing and impostor binaries", async () => {
    const failing = script("ffmpeg-failing", "exit 3");
    const impostor = script("ffprobe-impostor", "echo 'hello'");
    const report = await checkAudioTools({ ffmpeg: failing, ffprobe: impostor });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      `ffmpeg (${failing}) does not run: exited with code 3`,
      `${impostor} is not ffprobe (its -version names no ffprobe version)`,
    ]);
    const missing = await checkAudioTools({ ffmpeg: join(root, "no-ffmpeg"), ffprobe: real.ffprobe });
    expect(missing.problems).toEqual([expect.stringMatching(/^ffmpeg \(.*no-ffmpeg\) does not run: .*ENOENT/)]);
  });

  test("the needs are what plan.ts forces and encodes with", () => {
    const plan = readFileSync(join(import.meta.dir, "plan.ts"), "utf8");
    for (const encoder of AUDIO_NEEDS.encoders.filter((e) => e.startsWith("lib"))) expect(plan).toContain(`"${encoder}"`);
    for (const filter of AUDIO_NEEDS.filters) expect(plan).toContain(filter);
  });

  test("a check is remembered for a while, and one under way is shared", async () => {
    const log = join(root, "runs.log");
    const counted = script("ffmpeg-counted", `echo run >> "${log}"\nexec "${real.ffmpeg}" "$@"`);
    const tools = cachedAudioTools({ ffmpeg: counted, ffprobe: real.ffprobe });
    expect(tools.now()).toBeNull();
    const [a, b] = await Promise.all([tools.check(), tools.check()]);
    expect(a).toBe(b);
    expect(await tools.check()).toBe(a);
    expect(tools.now()).toBe(a);
    expect(readFileSync(log, "utf8").trim().split("\n").length).toBe(1 + Object.keys(AUDIO_NEEDS).length); // one round
    const expired = cachedAudioTools({ ffmpeg: counted, ffprobe: real.ffprobe }, 0);
    expect(await expired.check()).not.toBe(await expired.check());
  });
});

describe("versions", () => {
  test("read from -version and compared by release", () => {
    expect(parseVersion("ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024", "ffmpeg")).toBe("5.1.6-0+deb12u1");
    expect(parseVersion("something else", "ffmpeg")).toBeNull();
    expect(releaseOf("5.1.6-0+deb12u1")).toEqual([5, 1, 6]);
    expect(releaseOf("n7.0")).toEqual([7, 0, 0]);
    expect(releaseOf("4.1")).toEqual([4, 1, 0]);
    expect(releaseOf("N-47683-g0e8eb07980-static")).toBeNull();
    expect(releaseOf(null)).toBeNull();
    expect(compareReleases([5, 1, 6], [4, 1, 0])).toBeGreaterThan(0);
    expect(compareReleases([4, 1, 0], [4, 1, 0])).toBe(0);
    expect(compareReleases([4, 0, 9], [4, 1, 0])).toBeLessThan(0);
  });
});

// The runner: binary lookup, argument guards, the protocol whitelist in action, timeout/abort kills, the
// concurrency limit and temp-dir cleanup.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AudioError } from "./errors.ts";
import { assertGuardedArgs, createFfmpegRunner, resolveBinaries } from "./ffmpeg.ts";
import { bins, hangingBinary, shellScript } from "../../test/support/audio.ts";

const root = mkdtempSync(join(tmpdir(), "sc-ffmpeg-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const script = (name: string, body: string) => shellScript(root, name, body);
const guarded = (path = "/dev/null") => ["-nostdin", "-protocol_whitelist", "file,pipe", "-f", "wav", "-i", `file:${path}`];

describe("resolveBinaries", () => {
  const lookup = (o: Partial<Parameters<typeof resolveBinaries>[1]> = {}) => ({
    platform: `${process.platform}-${process.arch}`,
    fromDir: import.meta.dir,
    execPath: "/nonexistent/bin/bun",
    which: () => null,
    versionOutput: () => "",
    ...o,
  });

  test("FFMPEG_PATH / FFPROBE_PATH win, taken as given", () => {
    expect(resolveBinaries({ ffmpegPath: "/opt/ff/ffmpeg", ffprobePath: "/opt/ff/ffprobe" }, lookup())).toEqual({
      ffmpeg: "/opt/ff/ffmpeg",
      ffprobe: "/opt/ff/ffprobe",
    });
  });

  test("then the binaries inside @ffmpeg-installer / @ffprobe-installer", () => {
    const b = resolveBinaries({}, lookup());
    expect(b.ffmpeg).toMatch(/node_modules\/@ffmpeg-installer\/[^/]+\/ffmpeg$/);
    expect(b.ffprobe).toMatch(/node_modules\/@ffprobe-installer\/[^/]+\/ffprobe$/);
  });

  test("then files next to the running executable (the compiled binary), then PATH, then the bare name", () => {
    const dir = join(root, "release");
    mkdirSync(dir);
    writeFileSync(join(dir, "ffmpeg"), "#!/bin/sh\n");
    chmodSync(join(dir, "ffmpeg"), 0o755);
    writeFileSync(join(dir, "ffprobe"), "not executable");
    const noPackages = { fromDir: "/", execPath: join(dir, "sidechain") };
    expect(resolveBinaries({}, lookup({ ...noPackages, which: (n) => `/usr/local/bin/${n}` }))).toEqual({
      ffmpeg: join(dir, "ffmpeg"),
      ffprobe: "/usr/local/bin/ffprobe",
    });
    expect(resolveBinaries({}, lookup(noPackages)).ffprobe).toBe("ffprobe");
  });

  test("the PATH's pair wins when its ffmpeg is at least as new as the bundled one (release, else year built)", () => {
    const bundled = resolveBinaries({}, lookup());
    const version = (v: string, year: number) => `ffmpeg version ${v} Copyright (c) 2000-${year} the FFmpeg developers\n`;
    const onPath = (own: string, system: string) =>
      resolveBinaries({}, lookup({ which: (n) => `/usr/bin/${n}`, versionOutput: (p) => (p.startsWith("/usr/bin/") ? system : own) }));
    const system = { ffmpeg: "/usr/bin/ffmpeg", ffprobe: "/usr/bin/ffprobe" };
    expect(onPath(version("4.1", 2018), version("5.1.9-0+deb12u1", 2026))).toEqual(system);
    expect(onPath(version("6.0", 2023), version("5.1.9-0+deb12u1", 2026))).toEqual(bundled); // a release older than ours
    expect(onPath(version("N-47683-g0e8eb07980-static", 2018), version("5.1.9-0+deb12u1", 2026))).toEqual(system); // by year
    expect(onPath(version("N-47683-g0e8eb07980-static", 2018), version("N-1-gabc", 2017))).toEqual(bundled);
    expect(onPath(version("4.1", 2018), "")).toEqual(bundled); // a PATH ffmpeg that does not run
    // FFMPEG_PATH still wins over both; a PATH with only one of the two tools does not split the pair
    expect(resolveBinaries({ ffmpegPath: "/opt/ffmpeg" }, lookup({ which: (n) => `/usr/bin/${n}`, versionOutput: () => version("9.0", 2030) }))).toEqual({
      ffmpeg: "/opt/ffmpeg",
      ffprobe: "/usr/bin/ffprobe",
    });
    expect(resolveBinaries({}, lookup({ which: (n) => (n === "ffmpeg" ? "/usr/bin/ffmpeg" : null), versionOutput: () => version("9.0", 2030) }))).toEqual(
      bundled,
    );
  });
});

describe("assertGuardedArgs", () => {
  test("accepts guarded inputs, in order, for several inputs", () => {
    assertGuardedArgs("ffmpeg", [...guarded(), ...guarded().slice(1), "-f", "null", "-"]);
    assertGuardedArgs("ffprobe", guarded().slice(1));
  });
  test.each([
    ["no -nostdin", ["-protocol_whitelist", "file,pipe", "-f", "wav", "-i", "file:/x"]],
    ["no whitelist", ["-nostdin", "-f", "wav", "-i", "file:/x"]],
    ["a wider whitelist", ["-nostdin", "-protocol_whitelist", "file,http", "-f", "wav", "-i", "file:/x"]],
    ["no forced format", ["-nostdin", "-protocol_whitelist", "file,pipe", "-i", "file:/x"]],
    ["a bare path", ["-nostdin", "-protocol_whitelist", "file,pipe", "-f", "wav", "-i", "/x"]],
    ["a URL", ["-nostdin", "-protocol_whitelist", "file,pipe", "-f", "hls", "-i", "http://example.com/a.m3u8"]],
    ["guards that belong to the first input only", [...guarded(), "-i", "file:/y"]],
    ["no input", ["-nostdin", "-version"]],
  ])("refuses %s", (_, args) => {
    expect(() => assertGuardedArgs("ffmpeg", args)).toThrow("refusing to run ffmpeg");
  });
});

describe("the protocol whitelist, even with a playlist demuxer forced", () => {
  test("an HLS playlist and an ffconcat script cannot reach the network", async () => {
    let hits = 0;
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (hits++, new Response("x")) });
    try {
      const url = `http://127.0.0.1:${server.port}`;
      const hls = join(root, "list.m3u8");
      writeFileSync(hls, `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n${url}/a.ts\n#EXT-X-ENDLIST\n`);
      const concat = join(root, "list.ffconcat");
      writeFileSync(concat, `ffconcat version 1.0\nfile '${url}/a.wav'\n`);
      const runner = createFfmpegRunner();
      // `-safe 0` switches off the concat demuxer's own check, so the whitelist alone is what stops it.
      for (const [format, path, extra] of [
        ["hls", hls, []],
        ["concat", concat, ["-safe", "0"]],
      ] as const) {
        const r = await runner.run("ffmpeg", ["-nostdin", "-protocol_whitelist", "file,pipe", ...extra, "-f", format, "-i", `file:${path}`, "-f", "null", "-"]);
        expect(r.exitCode).not.toBe(0);
        expect(r.stderr).toContain("not on whitelist");
      }
      expect(hits).toBe(0);
    } finally {
      server.stop(true);
    }
  });
});

describe("running", () => {
  test("stdout is collected or streamed; stderr is returned; the exit code is passed on", async () => {
    const fake = script("talker", `echo out; echo err >&2; exit 3`);
    const runner = createFfmpegRunner({ ffmpegPath: fake });
    const r = await runner.run("ffmpeg", guarded());
    expect(r).toMatchObject({ exitCode: 3, stderr: "err\n" });
    expect(new TextDecoder().decode(r.stdout)).toBe("out\n");
    const chunks: Uint8Array[] = [];
    const s = await runner.run("ffmpeg", guarded(), { onStdout: (c) => chunks.push(c) });
    expect(s.stdout.length).toBe(0);
    expect(new TextDecoder().decode(Buffer.concat(chunks))).toBe("out\n");
  });

  test("the environment is not passed on", async () => {
    process.env.SIDECHAIN_TEST_SECRET = "hunter2";
    const runner = createFfmpegRunner({ ffmpegPath: script("env", "env") });
    const r = await runner.run("ffmpeg", guarded());
    delete process.env.SIDECHAIN_TEST_SECRET;
    expect(new TextDecoder().decode(r.stdout)).not.toContain("hunter2");
  });

  test("a process over its time is killed (SIGKILL) and reported as a timeout", async () => {
    const runner = createFfmpegRunner({ ffmpegPath: hangingBinary(root, "29.9792"), timeoutMs: 300 });
    const e = await runner.run("ffmpeg", guarded()).catch((err) => err);
    expect(e).toBeInstanceOf(AudioError);
    expect(e.code).toBe("timeout");
    expect(Bun.spawnSync(["ps", "-eo", "args"]).stdout.toString()).not.toContain("sleep 29.9792");
  });

  test("an abort kills the process, or stops a run still waiting for a slot", async () => {
    const runner = createFfmpegRunner({ ffmpegPath: hangingBinary(root, "28.1"), concurrency: 1 });
    const controller = new AbortController();
    const first = runner.run("ffmpeg", guarded(), { signal: controller.signal }).catch((e) => e);
    const queued = runner.run("ffmpeg", guarded(), { signal: controller.signal }).catch((e) => e);
    setTimeout(() => controller.abort(), 100);
    expect((await first).code).toBe("aborted");
    expect((await queued).code).toBe("aborted");
    expect((await runner.run("ffmpeg", guarded(), { signal: controller.signal }).catch((e) => e)).code).toBe("aborted");
  });

  test("a missing binary is ffmpeg_unavailable", async () => {
    const e = await createFfmpegRunner({ ffmpegPath: join(root, "nope") })
      .run("ffmpeg", guarded())
      .catch((err) => err);
    expect(e.code).toBe("ffmpeg_unavailable");
  });

  test("no more than `concurrency` processes run at once", async () => {
    const log = join(root, "concurrency.log");
    const fake = script("slow", `echo + >> ${log}; sleep 0.15; echo - >> ${log}`);
    const runner = createFfmpegRunner({ ffmpegPath: fake, concurrency: 2 });
    await Promise.all(Array.from({ length: 6 }, () => runner.run("ffmpeg", guarded())));
    let running = 0,
      max = 0;
    for (const c of readFileSync(log, "utf8").split("\n").filter(Boolean)) max = Math.max(max, (running += c === "+" ? 1 : -1));
    expect(max).toBe(2);
  });

  test("temp directories are private and removed whether the work succeeds or throws", async () => {
    const parent = join(root, "tmp");
    mkdirSync(parent);
    const runner = createFfmpegRunner({ tempDir: parent });
    let seen = "";
    await runner.withTempDir(async (dir) => {
      seen = dir;
      writeFileSync(join(dir, "x"), "y");
      expect(Bun.spawnSync(["stat", "-c", "%a", dir]).stdout.toString().trim()).toBe("700");
    });
    expect(existsSync(seen)).toBe(false);
    await expect(runner.withTempDir(async (dir) => ((seen = dir), Promise.reject(new Error("boom"))))).rejects.toThrow("boom");
    expect(existsSync(seen)).toBe(false);
  });

  test("bad runner settings are refused", () => {
    expect(() => createFfmpegRunner({ concurrency: 0 })).toThrow();
    expect(() => createFfmpegRunner({ timeoutMs: 0 })).toThrow();
  });

  test("the real binaries answer", async () => {
    expect(existsSync(bins.ffmpeg)).toBe(true);
    expect(existsSync(bins.ffprobe)).toBe(true);
  });
});

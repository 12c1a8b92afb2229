// Which release to ship (README "The single binary"): the archive `npm run build` makes (the executable with ffmpeg
// and ffprobe beside it, packed as .tar.gz) against one executable that embeds both tools and extracts them to a
// cache directory at start (scripts/bench/embedded-entry.ts). For each: what is downloaded, what is on disk, and the
// time from starting it in an empty directory to /readyz answering 200, on its first start and on a later one
// (median of 5 later starts). The plain executable without tools is the baseline for start time.
// Usage: bun scripts/bench/release.ts
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../test/support/net.ts";
import { machine, ROOT } from "./lib.ts";

const platform = `${process.platform}-${process.arch}`;
const work = mkdtempSync(join(tmpdir(), "sc-bench-release-"));
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const run = (cmd: string[], cwd = ROOT) => {
  const r = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
};

/** Milliseconds from spawning `exe` (in a fresh cwd and DATA_DIR, with `env`) to /readyz answering 200. */
async function startToReady(exe: string, env: Record<string, string> = {}): Promise<number> {
  const port = await freePort();
  const dir = mkdtempSync(join(work, "run-"));
  const t0 = performance.now();
  const proc = Bun.spawn([exe], {
    cwd: dir,
    env: { PATH: "/nonexistent", HOME: dir, PORT: String(port), DATA_DIR: dir, LOG_LEVEL: "error", ...env },
    stdout: "ignore",
    stderr: "inherit",
  });
  try {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`${exe} exited ${proc.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return performance.now() - t0;
      await Bun.sleep(5);
    }
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  run(["npm", "run", "build"]);
  const archive = join(ROOT, "dist", `sidechain-${platform}.tar.gz`);
  run(["tar", "-xzf", archive, "-C", work]);
  const dir = join(work, "sidechain");
  const unpacked = ["sidechain", "ffmpeg", "ffprobe"].reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  const embedded = join(work, "sidechain-embedded");
  run(["bun", "build", "scripts/bench/embedded-entry.ts", "--compile", "--bytecode", "--format=esm", "--minify-syntax", "--outfile", embedded]);
  const gz = join(work, "embedded.gz");
  run(["sh", "-c", `gzip -c '${embedded}' > '${gz}'`]);

  const bare = join(work, "bare");
  run(["cp", join(dir, "sidechain"), bare]);
  const baselineStarts: number[] = [];
  for (let i = 0; i < 5; i++) baselineStarts.push(await startToReady(bare, { FFMPEG_PATH: join(dir, "ffmpeg"), FFPROBE_PATH: join(dir, "ffprobe") }));
  const baseline = median(baselineStarts);
  const archiveStarts: number[] = [];
  for (let i = 0; i < 6; i++) archiveStarts.push(await startToReady(join(dir, "sidechain")));
  const cacheHome = mkdtempSync(join(work, "cache-"));
  const embeddedStarts: number[] = [];
  for (let i = 0; i < 6; i++) embeddedStarts.push(await startToReady(embedded, { XDG_CACHE_HOME: cacheHome }));

  console.log(`machine: ${machine()}`);
  console.log(`baseline: the executable alone, tools given by path: start to ready, median ${baseline.toFixed(0)} ms`);
  console.log(
    `archive:  download ${mb(statSync(archive).size)}, on disk ${mb(unpacked)}; first start ${archiveStarts[0]!.toFixed(0)} ms, later median ${median(archiveStarts.slice(1)).toFixed(0)} ms (${(median(archiveStarts.slice(1)) / baseline).toFixed(2)}× baseline)`,
  );
  console.log(
    `embedded: download ${mb(statSync(gz).size)} gzipped (${mb(statSync(embedded).size)}), on disk ${mb(statSync(embedded).size)} + ${mb(unpacked - statSync(join(dir, "sidechain")).size)} extracted; first start ${embeddedStarts[0]!.toFixed(0)} ms, later median ${median(embeddedStarts.slice(1)).toFixed(0)} ms (${(median(embeddedStarts.slice(1)) / baseline).toFixed(2)}× baseline)`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}

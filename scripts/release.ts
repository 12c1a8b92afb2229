// `npm run build`, after `build:binary` compiled dist/sidechain: the release a self-hoster downloads (README "The
// single binary"). The bundled ffmpeg and ffprobe (from the npm packages @ffmpeg-installer/<platform> and
// @ffprobe-installer/<platform>) go next to the executable, where the server looks for them (src/audio/ffmpeg.ts
// resolveBinaries), and the three files are packed as dist/sidechain-<platform>.tar.gz with a directory `sidechain/`.
// Why an archive rather than one executable that carries the tools: README "The single binary" (measured by
// scripts/bench/release.ts).
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const platform = `${process.platform}-${process.arch}`;
const dist = join(ROOT, "dist");
const binary = join(dist, "sidechain");
const stage = join(dist, "release", "sidechain");

/** The bundled tool's file, from its npm package. */
export function bundledTool(tool: "ffmpeg" | "ffprobe"): string {
  return join(dirname(Bun.resolveSync(`@${tool}-installer/${platform}/package.json`, ROOT)), tool);
}

if (import.meta.main) {
  statSync(binary); // built by build:binary
  rmSync(join(dist, "release"), { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  copyFileSync(binary, join(stage, "sidechain"));
  for (const tool of ["ffmpeg", "ffprobe"] as const) {
    // Next to dist/sidechain too, so the binary runs from dist/ as it would from the archive.
    for (const dir of [stage, dist]) {
      copyFileSync(bundledTool(tool), join(dir, tool));
      chmodSync(join(dir, tool), 0o755);
    }
  }
  chmodSync(join(stage, "sidechain"), 0o755);
  const archive = join(dist, `sidechain-${platform}.tar.gz`);
  const tar = Bun.spawnSync(["tar", "-czf", archive, "-C", join(dist, "release"), "sidechain"], { stderr: "inherit" });
  if (tar.exitCode !== 0) throw new Error(`tar failed (${tar.exitCode})`);
  rmSync(join(dist, "release"), { recursive: true, force: true });
  const mb = (p: string) => `${(statSync(p).size / 1e6).toFixed(0)} MB`;
  console.log(`${archive}: ${mb(archive)} (sidechain ${mb(binary)}, ffmpeg ${mb(join(dist, "ffmpeg"))}, ffprobe ${mb(join(dist, "ffprobe"))} unpacked)`);
}

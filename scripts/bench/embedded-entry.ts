// The other release scripts/bench/release.ts measures (README "The single binary"): one executable that carries
// ffmpeg and ffprobe as embedded files. At start it extracts them to a cache directory (XDG_CACHE_HOME or
// ~/.cache, `sidechain-tools/`), named by their SHA-256, with the executable bit; on later starts it reuses them once
// their SHA-256 checks out. Then it runs the server with them as FFMPEG_PATH and FFPROBE_PATH. Built only by the bench.
import { chmodSync, existsSync, mkdirSync, renameSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import ffmpegFile from "../../node_modules/@ffmpeg-installer/linux-x64/ffmpeg" with { type: "file" };
import ffprobeFile from "../../node_modules/@ffprobe-installer/linux-x64/ffprobe" with { type: "file" };
import { main } from "../../src/index.ts";

const sha256 = async (path: string) => new Bun.CryptoHasher("sha256").update(await Bun.file(path).arrayBuffer()).digest("hex");
const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "sidechain-tools");
mkdirSync(cache, { recursive: true });
for (const [tool, embedded] of [
  ["ffmpeg", ffmpegFile],
  ["ffprobe", ffprobeFile],
] as const) {
  const want = await sha256(embedded);
  const target = join(cache, `${tool}-${want.slice(0, 16)}`);
  if (!existsSync(target) || (await sha256(target)) !== want) {
    const part = `${target}.${process.pid}.part`;
    await Bun.write(part, Bun.file(embedded));
    chmodSync(part, 0o755);
    renameSync(part, target);
  }
  process.env[tool === "ffmpeg" ? "FFMPEG_PATH" : "FFPROBE_PATH"] = target;
}
await main();

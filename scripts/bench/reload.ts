// Developer loop: how long from saving a backend file until `npm run dev` (bun --watch) serves again, and how long
// `npm run build` takes. The source file is touched (a trailing comment appended, then restored).
// Usage: bun scripts/bench/reload.ts
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "../../test/support/net.ts";
import { machine, ROOT } from "./lib.ts";

const port = await freePort();
const file = join(ROOT, "src/system/routes.ts");
const original = readFileSync(file, "utf8");
const proc = Bun.spawn([process.execPath, "--watch", "src/index.ts"], {
  cwd: ROOT,
  env: { ...process.env, PORT: String(port), DATA_DIR: mkdtempSync(join(tmpdir(), "sc-reload-")) },
  stdout: "pipe",
  stderr: "inherit",
});
let starts = 0;
(async () => {
  for await (const chunk of proc.stdout as unknown as AsyncIterable<Uint8Array>)
    starts += (new TextDecoder().decode(chunk).match(/"msg":"listening"/g) ?? []).length;
})();
const url = `http://127.0.0.1:${port}/readyz`;
const ready = async () => (await fetch(url)).ok;
const t0 = performance.now();
await waitFor(ready, 30_000);
const firstStart = performance.now() - t0;
const times: number[] = [];
try {
  for (let i = 0; i < 5; i++) {
    await Bun.sleep(500);
    const before = starts;
    const t = performance.now();
    appendFileSync(file, `\n// reload ${i}\n`);
    await waitFor(async () => starts > before && (await ready()), 30_000);
    times.push(performance.now() - t);
  }
} finally {
  writeFileSync(file, original);
  proc.kill();
}
const b = performance.now();
const build = Bun.spawnSync([process.execPath, "run", "build"], { cwd: ROOT, stdout: "ignore", stderr: "ignore" });
const buildMs = performance.now() - b;
times.sort((x, y) => x - y);
console.log(`machine: ${machine()}`);
console.log(`first start until /readyz: ${firstStart.toFixed(0)} ms`);
console.log(`save → restarted and /readyz answers: median ${times[2]!.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, max ${times[4]!.toFixed(0)})`);
console.log(`npm run build (single binary): ${buildMs.toFixed(0)} ms, exit ${build.exitCode}`);

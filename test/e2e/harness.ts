// The end-to-end harness: builds the single executable once per test run and runs it as a user would, from an
// empty directory (no node_modules next to it), on a free port with a temp DATA_DIR; stops it with SIGTERM.
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { bins } from "../support/audio.ts";
import { freePort, waitFor } from "../support/net.ts";

const ROOT = join(import.meta.dir, "../..");
let built: Promise<string> | undefined;

/** Builds with the exact flags of `npm run build`, into a temp file. */
export function buildBinary(): Promise<string> {
  return (built ??= (async () => {
    const out = join(mkdtempSync(join(tmpdir(), "sc-build-")), "sidechain");
    const args = pkg.scripts["build:binary"].split(/\s+/).slice(1); // drop the leading "bun"
    args[args.indexOf("--outfile") + 1] = out;
    const proc = Bun.spawn([process.execPath, ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if ((await proc.exited) !== 0) throw new Error(`build failed: ${await new Response(proc.stderr).text()}`);
    return out;
  })());
}

export type ServerProcess = {
  url: string;
  dataDir: string;
  proc: ReturnType<typeof Bun.spawn>;
  /** Lines written so far to stdout (JSON log lines) and stderr. */
  stdout: string[];
  stderr: string[];
  stop(signal?: NodeJS.Signals): Promise<number>;
};

async function collect(stream: ReadableStream<Uint8Array> | number | undefined, into: string[]) {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    rest += decoder.decode(chunk, { stream: true });
    const lines = rest.split("\n");
    rest = lines.pop()!;
    into.push(...lines);
  }
  if (rest) into.push(rest);
}

/**
 * Runs the built binary; resolves once GET /readyz answers 200 (or rejects if it exits first). Like the release
 * (`npm run build`), the bundled ffmpeg and ffprobe sit next to it (links to the npm packages' files), unless
 * `tools: false`.
 */
export async function startBinary(opts: { env?: Record<string, string>; dataDir?: string; waitReady?: boolean; tools?: boolean } = {}): Promise<ServerProcess> {
  const binary = await buildBinary();
  const cwd = mkdtempSync(join(tmpdir(), "sc-run-"));
  copyFileSync(binary, join(cwd, "sidechain"));
  Bun.spawnSync(["chmod", "+x", join(cwd, "sidechain")]);
  if (opts.tools !== false) for (const tool of ["ffmpeg", "ffprobe"] as const) symlinkSync(bins[tool], join(cwd, tool));
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "sc-data-"));
  const port = await freePort();
  const proc = Bun.spawn([join(cwd, "sidechain")], {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: cwd, PORT: String(port), DATA_DIR: dataDir, ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const readers = Promise.all([collect(proc.stdout, stdout), collect(proc.stderr, stderr)]);
  const url = `http://127.0.0.1:${opts.env?.PORT ?? port}`;
  const server: ServerProcess = {
    url,
    dataDir,
    proc,
    stdout,
    stderr,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      const code = await proc.exited;
      await readers;
      rmSync(cwd, { recursive: true, force: true });
      return code;
    },
  };
  if (opts.waitReady !== false) {
    try {
      await waitFor(
        async () => (await fetch(`${url}/readyz`)).ok,
        15_000,
        () => proc.exitCode !== null,
      );
    } catch (err) {
      await server.stop("SIGKILL");
      throw new Error(`${(err as Error).message}\nstderr: ${stderr.join("\n")}\nstdout: ${stdout.join("\n")}`);
    }
  }
  return server;
}

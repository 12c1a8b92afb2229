// The only place that starts ffmpeg or ffprobe (docs/security.md "Uploads and ffmpeg"). Arguments come from plan.ts as
// an array, never through a shell. Here we enforce what must hold for every run, whoever built the arguments:
//   - `-nostdin` (ffmpeg), stdin closed, and a minimal environment (no secrets, no FFREPORT);
//   - every input opened with a forced demuxer (`-f`) and `-protocol_whitelist file,pipe`, from `file:`/`pipe:`,
//     so no playlist, concat script or URL can make ffmpeg open anything else;
//   - a wall-clock timeout after which the process is killed (SIGKILL), and an AbortSignal that kills it too;
//   - a global limit on concurrent processes (create one runner per server process: its limit is the limit);
//   - private temp directories (mkdtemp, mode 0700) removed in `finally`, whatever happened.
import { accessSync, constants, statSync } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { AudioError } from "./errors.ts";
import { createLimiter } from "../lib/limit.ts";
import { PROTOCOL_WHITELIST, toolEnv } from "./guards.ts";
import type { FfmpegStage } from "../metrics/types.ts";
import { type AudioToolsReport, cachedAudioTools, isAtLeast } from "./tools.ts";

export type { FfmpegStage } from "../metrics/types.ts";

export type Tool = "ffmpeg" | "ffprobe";

export interface FfmpegBinaries {
  ffmpeg: string;
  ffprobe: string;
}

export interface RunnerOptions {
  /** FFMPEG_PATH / FFPROBE_PATH: explicit binaries; otherwise see resolveBinaries(). */
  ffmpegPath?: string;
  ffprobePath?: string;
  /** FFMPEG_CONCURRENCY: processes running at once, default the number of cores. */
  concurrency?: number;
  /** FFMPEG_TIMEOUT_MS: wall-clock limit of one process, default 30 s. */
  timeoutMs?: number;
  /** Parent of the private temp directories, default the OS temp dir. */
  tempDir?: string;
  /**
   * Told of every process that started, once it ended (exited, killed at the timeout or aborted) with its stage and
   * wall-clock time: deps.metrics.ffmpegRun (src/index.ts). Not called for a run that never got a process.
   */
  onRun?: (tool: Tool, stage: FfmpegStage, seconds: number, ok: boolean) => void;
}

export interface RunOptions {
  /** Which step of the pipeline this run is, for the metrics (default "other"). */
  stage?: FfmpegStage;
  /** Overrides the runner's timeout for this run. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Receives stdout as it arrives (it is then not collected in the result). */
  onStdout?: (chunk: Uint8Array) => void;
}

export interface RunResult {
  exitCode: number;
  /** Collected stdout, empty when onStdout was given. */
  stdout: Uint8Array;
  /** The last STDERR_KEEP_BYTES of stderr (ffmpeg's summaries come last). */
  stderr: string;
  elapsedMs: number;
}

export interface FfmpegRunner {
  readonly binaries: FfmpegBinaries;
  /** Whether the binaries can do what the pipeline needs (src/audio/tools.ts), checked at most once a minute. */
  readonly tools: { check(): Promise<AudioToolsReport>; now(): AudioToolsReport | null };
  /** Runs once a slot is free. Resolves with any exit code; throws AudioError on timeout, abort or a missing binary. */
  run(tool: Tool, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Runs `fn` with a fresh private directory that is removed afterwards, whether `fn` succeeds or throws. */
  withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T>;
}

export const DEFAULT_FFMPEG_TIMEOUT_MS = 30_000;
/** Name prefix of the runner's private temp directories. */
export const TEMP_PREFIX = "sidechain-audio-";
const STDERR_KEEP_BYTES = 256 * 1024;
const STDOUT_MAX_BYTES = 256 * 1024 * 1024;

/** What resolveBinaries looks at; tests replace it. */
export interface BinaryLookup {
  platform: string;
  /** Directory to resolve the installer packages from (this module's directory). */
  fromDir: string;
  /** The running executable: with `bun build --compile` that is our single binary. */
  execPath: string;
  which: (name: string) => string | null;
  /** The tool's `-version` output, or "" when it does not run. */
  versionOutput: (path: string) => string;
}

const defaultLookup = (): BinaryLookup => ({
  platform: `${process.platform}-${process.arch}`,
  fromDir: import.meta.dir,
  execPath: process.execPath,
  which: (name) => Bun.which(name),
  versionOutput: (path) => {
    try {
      const r = Bun.spawnSync([path, "-hide_banner", "-version"], { stdin: "ignore", stderr: "ignore", timeout: 10_000 });
      return r.exitCode === 0 ? r.stdout.toString() : "";
    } catch {
      return "";
    }
  },
});

const isExecutable = (p: string) => {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/**
 * Finds ffmpeg and ffprobe (README "Audio tools"):
 *   1. FFMPEG_PATH / FFPROBE_PATH when given, each taken as is;
 *   2. otherwise the bundled pair: inside the npm packages @ffmpeg-installer/<platform> / @ffprobe-installer/<platform>
 *      (from source), or the two files next to the running executable (the release archive: `npm run build`);
 *   3. the pair on the PATH (e.g. Debian's `ffmpeg` package, which ships both) when there is no bundled pair, or when
 *      its ffmpeg is at least as new as the bundled one (by release number, else by the year it was built: see
 *      tools.ts isAtLeast), since a self-hoster who installs ffmpeg means it to be used.
 * When nothing is found the bare name is returned: the tools check names it, and uploads are refused (503).
 */
export function resolveBinaries(options: Pick<RunnerOptions, "ffmpegPath" | "ffprobePath"> = {}, lookup: BinaryLookup = defaultLookup()): FfmpegBinaries {
  const bundled = (tool: Tool): string | null => {
    try {
      const pkg = Bun.resolveSync(`@${tool}-installer/${lookup.platform}/package.json`, lookup.fromDir);
      const bin = join(dirname(pkg), tool);
      if (isExecutable(bin)) return bin;
    } catch {
      // not installed (or inside a compiled binary, where node_modules does not exist)
    }
    const beside = join(dirname(lookup.execPath), tool);
    return isExecutable(beside) ? beside : null;
  };
  const own = { ffmpeg: bundled("ffmpeg"), ffprobe: bundled("ffprobe") };
  const system = { ffmpeg: lookup.which("ffmpeg"), ffprobe: lookup.which("ffprobe") };
  const systemWins =
    system.ffmpeg !== null &&
    system.ffprobe !== null &&
    (own.ffmpeg === null || (system.ffmpeg !== own.ffmpeg && isAtLeast(lookup.versionOutput(system.ffmpeg), lookup.versionOutput(own.ffmpeg), "ffmpeg")));
  const pick = (tool: Tool, explicit: string | undefined) => explicit ?? (systemWins ? system[tool] : own[tool]) ?? system[tool] ?? tool;
  return { ffmpeg: pick("ffmpeg", options.ffmpegPath), ffprobe: pick("ffprobe", options.ffprobePath) };
}

/**
 * Refuses arguments that would let ffmpeg open something we did not choose. Each `-i` must be preceded, since
 * the previous input, by `-protocol_whitelist file,pipe` and `-f <demuxer>`, and name a `file:` or `pipe:` URL.
 * A failure here is a bug in a builder, not bad input, so it throws a plain Error.
 */
export function assertGuardedArgs(tool: Tool, args: readonly string[]): void {
  const fail = (why: string) => {
    throw new Error(`refusing to run ${tool}: ${why}: ${JSON.stringify(args)}`);
  };
  if (tool === "ffmpeg" && !args.includes("-nostdin")) fail("-nostdin missing");
  let since = 0;
  let inputs = 0;
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== "-i") continue;
    const window = args.slice(since, i);
    const w = window.lastIndexOf("-protocol_whitelist");
    if (w < 0 || window[w + 1] !== PROTOCOL_WHITELIST) fail(`input ${inputs} without -protocol_whitelist ${PROTOCOL_WHITELIST}`);
    const f = window.lastIndexOf("-f");
    if (f < 0 || !window[f + 1]) fail(`input ${inputs} without a forced format (-f)`);
    const url = args[i + 1] ?? "";
    if (!/^(file|pipe):/.test(url)) fail(`input ${inputs} is not a file: or pipe: URL`);
    since = i + 2;
    inputs++;
  }
  if (inputs === 0) fail("no input");
}

/**
 * Removes private temp directories left by a process that was killed (SIGKILL skips the `finally` that removes
 * them). Only directories older than `olderThanMs` go: no live job can still be using one that old, so this is
 * safe while other instances share the temp dir. Returns how many were removed.
 */
export async function sweepStaleTempDirs(tempDir: string | undefined, olderThanMs: number, now = Date.now()): Promise<number> {
  const root = tempDir ?? tmpdir();
  let removed = 0;
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const path = join(root, name);
    const info = await stat(path).catch(() => null);
    if (!info?.isDirectory() || now - info.mtimeMs < olderThanMs) continue;
    await rm(path, { recursive: true, force: true }).catch(() => undefined);
    removed++;
  }
  return removed;
}

const abortedError = () => new AudioError("aborted", "Audio processing was cancelled");

export function createFfmpegRunner(options: RunnerOptions = {}): FfmpegRunner {
  const binaries = resolveBinaries(options);
  const concurrency = options.concurrency ?? availableParallelism();
  const defaultTimeout = options.timeoutMs ?? DEFAULT_FFMPEG_TIMEOUT_MS;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`ffmpeg concurrency must be >= 1: ${concurrency}`);
  if (!(defaultTimeout > 0)) throw new RangeError(`ffmpeg timeout must be > 0 ms: ${defaultTimeout}`);
  const limiter = createLimiter(concurrency);
  const tempRoot = options.tempDir ?? tmpdir();

  async function run(tool: Tool, args: readonly string[], o: RunOptions = {}): Promise<RunResult> {
    assertGuardedArgs(tool, args);
    const timeoutMs = o.timeoutMs ?? defaultTimeout;
    const release = await limiter.acquire(o.signal, abortedError);
    try {
      if (o.signal?.aborted) throw abortedError();
      const started = performance.now();
      let proc: ReturnType<typeof spawn>;
      try {
        proc = spawn(binaries[tool], args, timeoutMs, o.signal);
      } catch (err) {
        throw new AudioError("ffmpeg_unavailable", "Audio processing is not available on this server", `${binaries[tool]}: ${(err as Error).message}`);
      }
      let stdout: Uint8Array, stderr: string, exitCode: number;
      try {
        [stdout, stderr, exitCode] = await Promise.all([readStdout(proc.stdout, o.onStdout), readTail(proc.stderr, STDERR_KEEP_BYTES), proc.exited]);
      } catch (err) {
        // Reading failed (output over its bound, or the consumer threw): the process must not outlive us.
        proc.kill("SIGKILL");
        await proc.exited;
        options.onRun?.(tool, o.stage ?? "other", (performance.now() - started) / 1000, false);
        throw err;
      }
      const elapsedMs = performance.now() - started;
      options.onRun?.(tool, o.stage ?? "other", elapsedMs / 1000, exitCode === 0 && !proc.signalCode);
      if (proc.signalCode) {
        if (o.signal?.aborted) throw abortedError();
        // Bun kills with SIGKILL at the timeout; anything else killing it early is reported as a failure.
        if (proc.signalCode === "SIGKILL" && elapsedMs >= timeoutMs - 5) {
          throw new AudioError(
            "timeout",
            `Audio processing took longer than ${+(timeoutMs / 1000).toFixed(1)} s and was stopped`,
            `${tool} killed after ${Math.round(elapsedMs)} ms`,
          );
        }
        throw new AudioError("processing_failed", "Audio processing failed", `${tool} died of ${proc.signalCode}: ${stderr.slice(-2000)}`);
      }
      return { exitCode, stdout, stderr, elapsedMs };
    } finally {
      release();
    }
  }

  async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tempRoot, TEMP_PREFIX));
    try {
      return await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  return { binaries, tools: cachedAudioTools(binaries), run, withTempDir };
}

function spawn(bin: string, args: readonly string[], timeoutMs: number, signal: AbortSignal | undefined) {
  return Bun.spawn({
    cmd: [bin, ...args],
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: toolEnv(),
    timeout: timeoutMs,
    killSignal: "SIGKILL",
    signal,
  });
}

async function readStdout(stream: ReadableStream<Uint8Array>, onChunk?: (chunk: Uint8Array) => void): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunksOf(stream)) {
    if (onChunk) {
      onChunk(chunk);
      continue;
    }
    size += chunk.length;
    // Our own builders bound every output with -fs; this is the backstop for the memory it may take.
    if (size > STDOUT_MAX_BYTES) throw new AudioError("processing_failed", "Audio processing failed", "stdout over limit");
    chunks.push(chunk);
  }
  return onChunk ? new Uint8Array(0) : Buffer.concat(chunks);
}

async function readTail(stream: ReadableStream<Uint8Array>, keep: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunksOf(stream)) {
    chunks.push(chunk);
    size += chunk.length;
    while (size - chunks[0]!.length >= keep) size -= chunks.shift()!.length;
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

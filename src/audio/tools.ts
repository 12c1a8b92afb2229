// Whether the audio tools can do what the pipeline asks of them (README "Audio tools"): ffmpeg and ffprobe present
// and runnable, and ffmpeg built with every encoder, filter, demuxer and muxer that src/audio/plan.ts names. Read from
// the tools themselves (`-version`, `-encoders`, `-filters`, `-demuxers`, `-muxers`), so a build without libvorbis or
// a file that is not ffmpeg at all is named before an upload meets it. Used at start (the log line), by /readyz, by
// the upload routes (503 `ffmpeg_unavailable` before the body is read) and by `sidechain doctor`.
import { toolEnv } from "./guards.ts";

/** What the pipeline uses (src/audio/plan.ts): the formats it forces with -f, its codecs and its filters. */
export const AUDIO_NEEDS = {
  encoders: ["libmp3lame", "libvorbis", "pcm_f32le"],
  filters: ["aresample", "aformat", "asplit", "anullsink", "ebur128", "volume", "apad", "alimiter", "atrim"],
  demuxers: ["wav", "aiff", "flac", "mp3", "ogg", "f32le"],
  muxers: ["f32le", "mp3", "ogg", "null"],
} as const;

export type ToolInfo = { path: string; version: string | null };
export type AudioToolsReport = { ok: boolean; ffmpeg: ToolInfo; ffprobe: ToolInfo; problems: string[] };

const TIMEOUT_MS = 10_000;

/** The two binaries (src/audio/ffmpeg.ts resolveBinaries). */
type FfmpegBinaries = { ffmpeg: string; ffprobe: string };

/** Runs `path args` and returns its stdout, or the reason it could not (missing, not executable, timed out, failed). */
async function output(path: string, args: string[]): Promise<{ out: string } | { error: string }> {
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn([path, ...args], { stdin: "ignore", stdout: "pipe", stderr: "ignore", env: toolEnv() });
  } catch (err) {
    return { error: (err as Error).message };
  }
  const timer = setTimeout(() => proc.kill("SIGKILL"), TIMEOUT_MS);
  try {
    const [out, code] = await Promise.all([new Response(proc.stdout as ReadableStream).text(), proc.exited]);
    return code === 0 ? { out } : { error: proc.signalCode ? `killed after ${TIMEOUT_MS} ms` : `exited with code ${code}` };
  } finally {
    clearTimeout(timer);
  }
}

/** "ffmpeg version 5.1.6-0+deb12u1 Copyright…" → "5.1.6-0+deb12u1". */
export const parseVersion = (out: string, tool: string): string | null => new RegExp(`^${tool} version (\\S+)`, "m").exec(out)?.[1] ?? null;

/**
 * A release number to compare versions by: "5.1.6-0+deb12u1" → [5, 1, 6], "n7.0" → [7, 0, 0]. Null for a build from
 * git ("N-47683-g0e8eb07980-static"), which names no release.
 */
export function releaseOf(version: string | null): [number, number, number] | null {
  const m = version ? /^n?(\d+)\.(\d+)(?:\.(\d+))?/.exec(version) : null;
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

export const compareReleases = (a: readonly number[], b: readonly number[]) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;

/** The year a build was made: the end of its copyright line ("Copyright (c) 2000-2018 the FFmpeg developers"). */
export const buildYear = (out: string): number | null => Number(/Copyright \(c\) \d{4}-(\d{4})/.exec(out)?.[1]) || null;

/**
 * Whether `candidate`'s -version output names a newer build than `current`'s, or the same: by release number when both
 * name one, else by the year each was built (a git build names no release). False when it cannot tell.
 */
export function isAtLeast(candidate: string, current: string, tool: string): boolean {
  const [a, b] = [releaseOf(parseVersion(candidate, tool)), releaseOf(parseVersion(current, tool))];
  if (a && b) return compareReleases(a, b) >= 0;
  const [ya, yb] = [buildYear(candidate), buildYear(current)];
  return ya !== null && yb !== null && ya >= yb;
}

/** The names in the first column after ffmpeg's legend (`-encoders`, `-filters`, `-demuxers`, `-muxers`). */
function listed(out: string): Set<string> {
  const names = new Set<string>();
  const body = out.slice(out.search(/^ *-{2,}\s*$/m) + 1);
  for (const line of body.split("\n")) {
    const cols = line.trim().split(/\s+/);
    // The name is the second column: " A..... libmp3lame …", " ... ebur128 A->N …", " D  wav …" (a demuxer or muxer
    // may list several: "mov,mp4,m4a"). Legend lines ("T.. = Timeline support") add "=", which no need names.
    for (const n of (cols[1] ?? "").split(",")) if (n) names.add(n);
  }
  return names;
}

/** Checks both tools: present, runnable, and ffmpeg with all of AUDIO_NEEDS. */
export async function checkAudioTools(binaries: FfmpegBinaries): Promise<AudioToolsReport> {
  const problems: string[] = [];
  const info = async (tool: "ffmpeg" | "ffprobe"): Promise<ToolInfo> => {
    const r = await output(binaries[tool], ["-hide_banner", "-version"]);
    if ("error" in r) {
      problems.push(`${tool} (${binaries[tool]}) does not run: ${r.error}`);
      return { path: binaries[tool], version: null };
    }
    const version = parseVersion(r.out, tool);
    if (!version) problems.push(`${binaries[tool]} is not ${tool} (its -version names no ${tool} version)`);
    return { path: binaries[tool], version };
  };
  const ffmpeg = await info("ffmpeg");
  const ffprobe = await info("ffprobe");
  if (ffmpeg.version) {
    for (const kind of Object.keys(AUDIO_NEEDS) as (keyof typeof AUDIO_NEEDS)[]) {
      const r = await output(binaries.ffmpeg, ["-hide_banner", `-${kind}`]);
      if ("error" in r) {
        problems.push(`ffmpeg -${kind} failed: ${r.error}`);
        continue;
      }
      const have = listed(r.out);
      const missing = AUDIO_NEEDS[kind].filter((n) => !have.has(n));
      if (missing.length) problems.push(`ffmpeg lacks ${kind.replace(/s$/, "")}${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
    }
  }
  return { ok: problems.length === 0, ffmpeg, ffprobe, problems };
}

/**
 * checkAudioTools, remembered for `maxAgeMs` (spawning ffmpeg five times per readiness probe would be wasteful); a
 * check under way is shared. `now()` reads the last answer without waiting (null before the first one).
 */
export function cachedAudioTools(binaries: FfmpegBinaries, maxAgeMs = 60_000) {
  let last: { at: number; report: AudioToolsReport } | null = null;
  let running: Promise<AudioToolsReport> | null = null;
  const check = (): Promise<AudioToolsReport> => {
    if (last && performance.now() - last.at < maxAgeMs) return Promise.resolve(last.report);
    running ??= checkAudioTools(binaries)
      .then((report) => ((last = { at: performance.now(), report }), report))
      .finally(() => (running = null));
    return running;
  };
  return { check, now: () => last?.report ?? null };
}

// 20 uploads at once from one producer: every one is processed (ready), and the server never runs more ffmpeg or
// ffprobe processes than FFMPEG_CONCURRENCY nor more job handlers than JOB_CONCURRENCY at the same time.
//
// The process count is taken from the processes themselves: FFMPEG_PATH and FFPROBE_PATH point at wrapper scripts
// that append "+" to a log before running the real binary and "-" after it, so the log replays the number of
// live processes exactly (counting calls to runner.run would also count calls still waiting for a slot).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { registerProcessLoop } from "../../src/audio/process-loop.ts";
import { bins, lavfi, signals } from "../support/audio.ts";
import type { JobHandler } from "../../src/jobs/queue.ts";
import { json, registerUser } from "../support/auth.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";

const UPLOADS = 20;
const FFMPEG_CONCURRENCY = 2;
const JOB_CONCURRENCY = 3;

const work = mkdtempSync(join(tmpdir(), "sc-upload-many-"));
const processLog = join(work, "processes.log");
// The runner's private temp directories go under a directory of this test (other test runs share /tmp).
const temps = join(work, "tmp");

/** A stand-in for `real` that logs its start and end around running it (exit code passed through). */
function countingWrapper(name: string, real: string): string {
  const path = join(work, name);
  writeFileSync(path, `#!/bin/sh\necho + >> '${processLog}'\n'${real}' "$@"\nrc=$?\necho - >> '${processLog}'\nexit $rc\n`);
  chmodSync(path, 0o755);
  return path;
}

let env: TestEnv;
let token: string;
let wav: string;
let jobsNow = 0;
const tempDirs: string[] = [];
let jobsMax = 0;

beforeAll(async () => {
  wav = await lavfi(join(work, "loop.wav"), signals.produced(2), ["-c:a", "pcm_s16le", "-f", "wav"]);
  mkdirSync(temps);
  const tmpBefore = process.env.TMPDIR;
  process.env.TMPDIR = temps; // read once, when the runner is built
  try {
    env = await createTestEnv("sqlite", {
      PUBLIC_URL: "http://localhost",
      UPLOAD_RATE_PER_HOUR: "1000",
      FFMPEG_CONCURRENCY: String(FFMPEG_CONCURRENCY),
      JOB_CONCURRENCY: String(JOB_CONCURRENCY),
      FFMPEG_PATH: countingWrapper("ffmpeg", bins.ffmpeg),
      FFPROBE_PATH: countingWrapper("ffprobe", bins.ffprobe),
    });
  } finally {
    if (tmpBefore === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmpBefore;
  }
  // Every private temp directory the runner hands out is noted.
  const ffmpeg = env.deps.ffmpeg;
  const withTempDir = ffmpeg.withTempDir.bind(ffmpeg);
  ffmpeg.withTempDir = (fn) => withTempDir((dir) => (tempDirs.push(dir), fn(dir)));
  // Every handler the queue runs is counted while it runs.
  const jobs = env.deps.jobs;
  const register = jobs.register.bind(jobs);
  jobs.register = (type, handler, options) => {
    const counted: JobHandler<any> = async (job, ctx) => {
      jobsMax = Math.max(jobsMax, ++jobsNow);
      try {
        return await handler(job, ctx);
      } finally {
        jobsNow--;
      }
    };
    register(type, counted, options);
  };
  registerProcessLoop(env.deps);
  await env.deps.jobs.start();
  token = (await registerUser(env)).auth.token;
}, 60_000);

afterAll(async () => {
  await env?.close();
  rmSync(work, { recursive: true, force: true });
});

test(`${UPLOADS} uploads at once from one producer are all processed, with ffmpeg and the job queue bounded`, async () => {
  const file = Bun.file(wav);
  const answers = await Promise.all(
    Array.from({ length: UPLOADS }, async (_, i) => {
      const f = new FormData();
      f.set("filename", `take ${i}`);
      f.set("bpm", "120");
      f.set("audio_file", file, `take-${i}.wav`);
      const res = await env.request("/api/v1/audio/upload", { method: "POST", body: f, token });
      return { status: res.status, body: await json(res) };
    }),
  );
  // Each upload is accepted: ready within UPLOAD_WAIT_MS (201) or still processing (202), never an error.
  for (const a of answers) expect([201, 202]).toContain(a.status);
  const ids = answers.map((a) => a.body.id as string);
  expect(new Set(ids).size).toBe(UPLOADS);

  // The ones still processing finish (bounded polling, not a timing assertion).
  for (const id of ids) {
    for (let i = 0; ; i++) {
      const s = await json(await env.request(`/api/v1/audio/status/${id}`, { token }));
      if (s.status !== "processing") {
        expect(s).toMatchObject({ status: "ready", progress: 100 });
        break;
      }
      if (i > 600) throw new Error(`post ${id} still processing`);
      await Bun.sleep(100);
    }
  }

  // Every post is ready with a normalized MP3 that is served; every job ran once and is done.
  for (const id of ids) {
    const post = await json(await env.request(`/api/v1/posts/${id}`));
    expect(post.status).toBe("ready");
    expect(Math.abs(post.loudness_lufs + 14)).toBeLessThanOrEqual(1);
    const mp3 = await env.request(new URL(post.mp3_url).pathname);
    expect(mp3.status).toBe(200);
    expect(mp3.headers.get("content-type")).toBe("audio/mpeg");
    const ogg = await env.request(new URL(post.audio_url).pathname);
    expect(ogg.status).toBe(200);
    expect(ogg.headers.get("content-type")).toBe("audio/ogg");
  }
  const jobs = await env.deps.database.db.all<{ status: string; attempts: number; n: number }>(
    sql`SELECT status, attempts, count(*) AS n FROM jobs GROUP BY status, attempts`,
  );
  expect(jobs.map((j) => ({ ...j, n: Number(j.n) }))).toEqual([{ status: "done", attempts: 1, n: UPLOADS }]);

  // Bounded: the processes that actually ran, replayed from their own log.
  const events = readFileSync(processLog, "utf8").split("\n").filter(Boolean);
  let live = 0;
  let maxLive = 0;
  for (const e of events) maxLive = Math.max(maxLive, (live += e === "+" ? 1 : -1));
  expect(live).toBe(0); // every process started also ended
  // 20 uploads × (1 probe at upload + the pipeline's runs) went through the wrappers.
  expect(events.length).toBeGreaterThan(2 * UPLOADS * 2);
  expect(maxLive).toBeLessThanOrEqual(FFMPEG_CONCURRENCY);
  expect(maxLive).toBeGreaterThan(1); // there was parallel work for the bound to hold back
  expect(jobsMax).toBeLessThanOrEqual(JOB_CONCURRENCY);
  expect(jobsMax).toBeGreaterThan(1);
  expect(jobsNow).toBe(0);

  // Nothing left behind: no temp directories, and the server still answers.
  expect(tempDirs.length).toBeGreaterThanOrEqual(2 * UPLOADS); // the upload's probe and the job's work
  expect(tempDirs.every((d) => d.startsWith(temps))).toBe(true);
  expect(readdirSync(temps).filter((d) => d.startsWith("sidechain-audio-"))).toEqual([]);
  expect((await env.request("/readyz")).status).toBe(200);
}, 180_000);

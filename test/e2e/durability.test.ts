// Durability of loop processing (issue 4, "Durability"):
//   - the compiled server is killed with SIGKILL while a process-loop job runs and started again on the same
//     DATA_DIR: the job runs again and the post becomes ready, whether the new process takes its old jobs back at
//     once (a fixed JOB_WORKER_ID) or waits for their lease to expire (a fresh worker id, short JOB_LEASE_MS);
//   - a job whose ffmpeg hangs is killed at FFMPEG_TIMEOUT_MS, retried, and then marked failed with its reason,
//     leaving no media behind and the server healthy (in process: it needs no restart).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { registerProcessLoop } from "../../src/audio/process-loop.ts";
import { bins, decode, hangingBinary, lavfi, signals } from "../support/audio.ts";
import { inspectMp3 } from "../../src/audio/mp3.ts";
import { json, newUserInput, registerUser } from "../support/auth.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { killOrphans } from "../support/processes.ts";
import { buildBinary, startBinary, type ServerProcess } from "./harness.ts";

const LOOP_SECONDS = 90;
const work = mkdtempSync(join(tmpdir(), "sc-durability-"));
let shortWav: string;
let longWav: string;

// The build takes a few seconds (more on a loaded machine): once, up front, with room to spare.
beforeAll(async () => {
  await buildBinary();
  shortWav = await lavfi(join(work, "short.wav"), signals.drums(3), ["-c:a", "pcm_s16le", "-f", "wav"]);
  // A long loop (a 5 s drum bar played 18 times) keeps its job busy long enough to be killed in the middle.
  const bar = await lavfi(join(work, "bar.wav"), signals.drums(5), ["-c:a", "pcm_s16le", "-f", "wav"]);
  longWav = await lavfi(join(work, "long.wav"), `amovie=${bar}:loop=${LOOP_SECONDS / 5}`, ["-c:a", "pcm_s16le", "-f", "wav"]);
}, 180_000);

const running = new Set<ServerProcess>();
afterAll(async () => {
  await Promise.all([...running].map((s) => s.stop("SIGKILL")));
  rmSync(work, { recursive: true, force: true });
});

async function start(dataDir: string, env: Record<string, string>) {
  const s = await startBinary({ dataDir, env });
  running.add(s);
  return s;
}
async function stop(s: ServerProcess, signal: NodeJS.Signals) {
  running.delete(s);
  return s.stop(signal);
}

const api = (s: ServerProcess, path: string, init: RequestInit & { token?: string } = {}) =>
  fetch(`${s.url}${path}`, {
    ...init,
    headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.headers as Record<string, string>) },
  });

/** The job and post rows, read from the database file itself (the server may be dead). */
function rows(dataDir: string, postId: string) {
  const db = new Database(join(dataDir, "sidechain.db"), { readonly: true });
  try {
    const job = db.query("SELECT status, attempts, locked_by AS lockedBy FROM jobs WHERE dedupe_key = ?").get(`process-loop:${postId}`) as {
      status: string;
      attempts: number;
      lockedBy: string | null;
    };
    const post = db.query("SELECT status FROM posts WHERE id = ?").get(postId) as { status: string };
    return { job, post };
  } finally {
    db.close();
  }
}

/** Polls GET /audio/status until it leaves `processing` (bounded by a number of polls, not a time assertion). */
async function pollStatus(s: ServerProcess, postId: string, token: string, until: (st: { status: string; progress: number }) => boolean, polls = 2400) {
  for (let i = 0; i < polls; i++) {
    const res = await api(s, `/api/v1/audio/status/${postId}`, { token });
    const st = await json(res);
    if (res.status !== 200) throw new Error(`status answered ${res.status}: ${JSON.stringify(st)}`);
    if (until(st)) return st;
    await Bun.sleep(50);
  }
  throw new Error(`post ${postId}: condition not reached after ${polls} polls`);
}

async function killMidJobAndRestart(env: Record<string, string>) {
  const dataDir = mkdtempSync(join(work, "data-"));
  const tmp = mkdtempSync(join(work, "tmp-"));
  const serverEnv = { FFMPEG_PATH: bins.ffmpeg, FFPROBE_PATH: bins.ffprobe, UPLOAD_WAIT_MS: "0", TMPDIR: tmp, ...env };
  const first = await start(dataDir, serverEnv);

  const reg = await api(first, "/api/v1/auth/register", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(newUserInput()),
  });
  expect(reg.status).toBe(201);
  const token = (await reg.json()).auth.token as string;
  const form = new FormData();
  form.set("filename", "Long take");
  form.set("audio_file", Bun.file(longWav), "long.wav");
  const up = await api(first, "/api/v1/audio/upload", { method: "POST", body: form, token });
  const post = await json(up);
  expect(up.status).toBe(202); // UPLOAD_WAIT_MS=0: accepted, processing goes on in the job
  expect(post.status).toBe("processing");

  // The job is under way (it reported progress) and not finished: kill the server without warning.
  const mid = await pollStatus(first, post.id, token, (st) => st.status !== "processing" || st.progress > 0);
  expect(mid.status).toBe("processing");
  expect(await stop(first, "SIGKILL")).not.toBe(0);
  killOrphans(tmp);
  // The database says the job was running (first attempt) when the process died, and the post is not ready.
  const dead = rows(dataDir, post.id);
  expect(dead.job).toMatchObject({ status: "running", attempts: 1 });
  expect(dead.post.status).toBe("processing");

  // Started again on the same DATA_DIR: the same token still works, the job runs again, the post becomes ready.
  const second = await start(dataDir, serverEnv);
  const done = await pollStatus(second, post.id, token, (st) => st.status !== "processing");
  expect(done).toMatchObject({ status: "ready", progress: 100 });
  const after = rows(dataDir, post.id);
  expect(after.job).toMatchObject({ status: "done", attempts: 2 });

  // The delivered loop is whole: a 128 kbps MP3 that decodes to the input's length.
  const ready = await json(await api(second, `/api/v1/posts/${post.id}`));
  expect(ready.status).toBe("ready");
  expect(Math.abs(ready.duration_seconds - LOOP_SECONDS)).toBeLessThan(1152 / 44100);
  const mp3 = await api(second, new URL(ready.mp3_url).pathname);
  expect(mp3.status).toBe(200);
  const bytes = new Uint8Array(await mp3.arrayBuffer());
  expect(inspectMp3(bytes)?.cbrKbps).toBe(128);
  const file = join(work, `${post.id}.mp3`);
  await Bun.write(file, bytes);
  expect(Math.abs((await decode(file)).frames - LOOP_SECONDS * 44100)).toBeLessThanOrEqual(1152);

  // The job drew the share card with the renderer and fonts embedded in the binary (src/audio/card.ts): the loop
  // page's og:image is a 1200×630 PNG.
  const page = await (await api(second, `/l/${post.id}`)).text();
  const card = /<meta property="og:image" content="([^"]+)"/.exec(page)?.[1];
  expect(page).toContain('<meta property="og:image:width" content="1200"');
  const png = new Uint8Array(await (await api(second, new URL(card!).pathname)).arrayBuffer());
  const size = new DataView(png.buffer, 16, 8);
  expect([size.getUint32(0), size.getUint32(4)]).toEqual([1200, 630]);

  const logs = second.stdout.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  expect(await stop(second, "SIGTERM")).toBe(0);
  return { logs };
}

describe("a server killed while a job runs", () => {
  test("with a fixed JOB_WORKER_ID, the restarted server takes its job back at once and the post becomes ready", async () => {
    const { logs } = await killMidJobAndRestart({ JOB_WORKER_ID: "durability-worker-1" });
    // Queued again at start (not after its 30 s lease): the runner says so.
    expect(logs.some((l) => l.msg === "jobs of this worker's previous run queued again" && l.count === 1 && l.worker === "durability-worker-1")).toBe(true);
  }, 240_000);

  test("without a worker id, the job is taken again once its lease (JOB_LEASE_MS) has expired", async () => {
    const { logs } = await killMidJobAndRestart({ JOB_LEASE_MS: "3000" });
    expect(logs.some((l) => l.msg === "jobs of this worker's previous run queued again")).toBe(false);
    expect(logs.some((l) => l.msg === "job done" && l.attempt === 2)).toBe(true);
  }, 240_000);
});

describe("a job whose ffmpeg hangs (in process)", () => {
  let env: TestEnv;
  let token: string;
  const marker = "47.3141"; // the hanging process is `sleep 47.3141`: findable in the process list
  const tmp = join(work, "hang-tmp");

  beforeAll(async () => {
    mkdirSync(tmp);
    const tmpBefore = process.env.TMPDIR;
    process.env.TMPDIR = tmp; // the runner's private temp directories go here (read when it is built)
    try {
      env = await createTestEnv("sqlite", {
        PUBLIC_URL: "http://localhost",
        FFMPEG_PATH: hangingBinary(work, marker), // ffprobe stays real: the upload's probe passes
        FFMPEG_TIMEOUT_MS: "1000",
        JOB_MAX_ATTEMPTS: "2",
        JOB_BACKOFF_BASE_MS: "10",
        UPLOAD_WAIT_MS: "0",
      });
    } finally {
      if (tmpBefore === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmpBefore;
    }
    registerProcessLoop(env.deps);
    await env.deps.jobs.start();
    token = (await registerUser(env)).auth.token;
  });
  afterAll(() => env?.close());

  test("is killed at FFMPEG_TIMEOUT_MS, retried, then marked failed; no media remain and the server stays ready", async () => {
    const form = new FormData();
    form.set("audio_file", Bun.file(shortWav), "loop.wav");
    const res = await env.request("/api/v1/audio/upload", { method: "POST", body: form, token });
    const post = await json(res);
    expect(res.status).toBe(202);
    expect(post.status).toBe("processing");

    // The test clock stands still; the retry's backoff is moved past by advancing it a little at each poll.
    let st: Record<string, any> = {};
    for (let i = 0; ; i++) {
      st = await json(await env.request(`/api/v1/audio/status/${post.id}`, { token }));
      if (st.status !== "processing") break;
      if (i > 600) throw new Error("still processing");
      env.clock.advance(50);
      await Bun.sleep(50);
    }
    expect(st).toMatchObject({ status: "failed", error: "timeout" });
    expect(st.message).toMatch(/longer than/);
    expect(st.post.status).toBe("failed");

    // The job ran twice (JOB_MAX_ATTEMPTS=2), each attempt ended by the timeout, and failed for good. The post is
    // marked failed by the last attempt just before the queue records the job's end: wait for that record.
    const jobRow = async () =>
      (
        await env.deps.database.db.all<{ id: string; status: string; attempts: number; last_error: string }>(
          sql`SELECT id, status, attempts, last_error FROM jobs WHERE dedupe_key = ${`process-loop:${post.id}`}`,
        )
      )[0];
    await env.deps.jobs.waitFor((await jobRow())!.id, 10_000);
    const job = await jobRow();
    expect(job).toMatchObject({ status: "failed", attempts: 2 });
    expect(job!.last_error).toMatch(/longer than/);
    const attempts = env.logs.filter((l) => l.job_type === "process-loop" && (l.msg === "job attempt failed; will retry" || l.msg === "job failed"));
    expect(attempts.map((l) => [l.msg, l.attempt])).toEqual([
      ["job attempt failed; will retry", 1],
      ["job failed", 2],
    ]);

    // The hanging processes were killed, no media object and no temp directory remain.
    expect(Bun.spawnSync(["ps", "-eo", "args"]).stdout.toString()).not.toContain(`sleep ${marker}`);
    const media = join(env.deps.config.DATA_DIR, "media");
    const files = existsSync(media)
      ? readdirSync(media, { recursive: true })
          .map(String)
          .filter((f) => f.includes(".") && !f.startsWith(".tmp"))
      : [];
    expect(files).toEqual([]);
    expect(readdirSync(tmp).filter((d) => d.startsWith("sidechain-audio-"))).toEqual([]);
    expect((await env.request(`/media/${new URL(post.audio_url).pathname.slice("/media/".length)}`)).status).toBe(404);

    // The server still answers, and a failed post is still the owner's to read.
    expect((await env.request("/readyz")).status).toBe(200);
    expect((await json(await env.request(`/api/v1/posts/${post.id}`, { token }))).status).toBe("failed");
  }, 60_000);
});

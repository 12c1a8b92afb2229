// SCALE-OUT END TO END (README "Tests"): two processes of the built binary, each
// with its own DATA_DIR and JOB_WORKER_ID, sharing what a scaled-out community shares and nothing else: ONE real
// libSQL server (sqld, DATABASE_URL), ONE S3-compatible server (s3rver, STORAGE=s3, presigned redirects) and ONE
// real redis-server (REDIS_URL), and the same JWT_SECRET. As a user would see it:
//   - a loop uploaded through instance A is processed (by either instance) and becomes ready; it is in B's global
//     feed and in the timeline of a follower signed in through B, whose WebSocket on B receives `new_post`;
//   - its media come from the bucket: B's media URLs redirect to the S3 server, whose bytes are the object's;
//   - a rate limit (RATE_LIMIT_DEVICE_POLL_PER_MIN) spent half through A and half through B refuses on both;
//   - a process-loop job survives `kill -9` of the instance that held it: the other one finishes it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createClient, type Client } from "@libsql/client";
import { inspectMp3 } from "../../src/audio/mp3.ts";
import { bins, lavfi, signals } from "../support/audio.ts";
import { killOrphans } from "../support/processes.ts";
import { REDIS_SERVER, startRedis, type RedisServer } from "../support/redis.ts";
import { startS3rver, type S3rverHandle } from "../support/s3.ts";
import { startSqld, type Sqld } from "../support/sqld.ts";
import { WsClient } from "../support/ws.ts";
import { buildBinary, startBinary, type ServerProcess } from "./harness.ts";

const LONG_SECONDS = 60;
const POLL_BUDGET = 4; // RATE_LIMIT_DEVICE_POLL_PER_MIN of both instances
type User = { id: string; token: string };
type Instance = { name: string; worker: string; tmp: string; server: ServerProcess };

describe.skipIf(!REDIS_SERVER)("scale-out: two instances on one sqld, one S3 server and one Redis", () => {
  const work = mkdtempSync(join(tmpdir(), "sc-scale-out-"));
  let sqld: Sqld;
  let s3: S3rverHandle;
  let redis: RedisServer;
  let db: Client;
  let bucket: S3Client;
  let A: Instance, B: Instance;
  let shortWav: string, longWav: string;
  const alive = new Set<ServerProcess>();

  beforeAll(async () => {
    await buildBinary();
    shortWav = await lavfi(join(work, "short.wav"), signals.drums(3), ["-c:a", "pcm_s16le", "-f", "wav"]);
    // A long loop (a 5 s drum bar played 12 times) keeps its job busy long enough to kill its instance mid-job.
    const bar = await lavfi(join(work, "bar.wav"), signals.drums(5), ["-c:a", "pcm_s16le", "-f", "wav"]);
    longWav = await lavfi(join(work, "long.wav"), `amovie=${bar}:loop=${LONG_SECONDS / 5}`, ["-c:a", "pcm_s16le", "-f", "wav"]);
    [sqld, s3, redis] = await Promise.all([startSqld(), startS3rver("sidechain-scale-out"), startRedis()]);
    db = createClient({ url: sqld.url });
    bucket = s3.client();
    const shared = {
      DATABASE_URL: sqld.url,
      ...s3.env, // STORAGE=s3, no CDN_BASE_URL: media URLs redirect to presigned URLs
      REDIS_URL: redis.url,
      // A loaded machine must not make a limit check fall back to counting alone (README "Configuration").
      REDIS_LIMIT_TIMEOUT_MS: "5000",
      JWT_SECRET: "scale-out-test-secret-shared-by-both-instances",
      JOB_LEASE_MS: "5000",
      UPLOAD_WAIT_MS: "0",
      RATE_LIMIT_DEVICE_POLL_PER_MIN: String(POLL_BUDGET),
      RATE_LIMIT_AUTH_PER_MIN: "1000",
      FFMPEG_PATH: bins.ffmpeg,
      FFPROBE_PATH: bins.ffprobe,
    };
    const start = async (name: string): Promise<Instance> => {
      const worker = `scale-out-${name}`;
      const tmp = mkdtempSync(join(work, `tmp-${name}-`));
      // One after the other: the first applies the migrations to the shared database.
      const server = await startBinary({ env: { ...shared, JOB_WORKER_ID: worker, TMPDIR: tmp } });
      alive.add(server);
      return { name, worker, tmp, server };
    };
    A = await start("a");
    B = await start("b");
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...alive].map((s) => s.stop("SIGKILL")));
    for (const i of [A, B]) if (i) killOrphans(i.tmp);
    bucket?.destroy();
    db?.close();
    await Promise.all([sqld?.stop(), s3?.stop(), redis?.stop()]);
    rmSync(work, { recursive: true, force: true });
  });

  const api = (on: Instance, path: string, init: RequestInit & { token?: string } = {}) =>
    fetch(`${on.server.url}${path}`, {
      redirect: "manual",
      ...init,
      headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.headers as Record<string, string>) },
    });
  const postJson = (on: Instance, path: string, body: unknown, token?: string) =>
    api(on, path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), token });

  async function register(on: Instance, name: string): Promise<User> {
    const res = await postJson(on, "/api/v1/auth/register", { email: `${name}@example.com`, username: name, password: "correct horse battery staple" });
    const body = (await res.json()) as { auth: { token: string; user: { id: string } } };
    expect(res.status).toBe(201);
    return { id: body.auth.user.id, token: body.auth.token };
  }

  async function upload(on: Instance, user: User, wav: string, title: string) {
    const form = new FormData();
    form.set("filename", title);
    form.set("audio_file", Bun.file(wav), "loop.wav");
    const res = await api(on, "/api/v1/audio/upload", { method: "POST", body: form, token: user.token });
    const post = (await res.json()) as { id: string; status: string };
    expect(res.status).toBe(202); // UPLOAD_WAIT_MS=0: accepted, processed by a job
    expect(post.status).toBe("processing");
    return post.id;
  }

  /** Polls GET /audio/status (bounded by a number of polls, not a time assertion). */
  async function pollStatus(on: Instance, postId: string, user: User, until: (st: { status: string; progress: number }) => boolean, polls = 3000) {
    for (let i = 0; i < polls; i++) {
      const res = await api(on, `/api/v1/audio/status/${postId}`, { token: user.token });
      const st = (await res.json()) as { status: string; progress: number };
      if (res.status !== 200) throw new Error(`status answered ${res.status}: ${JSON.stringify(st)}`);
      if (until(st)) return st;
      await Bun.sleep(50);
    }
    throw new Error(`post ${postId}: condition not reached after ${polls} polls`);
  }

  const jobRow = async (postId: string) =>
    (await db.execute({ sql: "SELECT status, attempts, locked_by FROM jobs WHERE dedupe_key = ?", args: [`process-loop:${postId}`] })).rows[0] as unknown as {
      status: string;
      attempts: number;
      locked_by: string | null;
    };

  /** Follows an instance's media URL as a browser does: a redirect to the S3 server, whose bytes are the object's. */
  async function mediaFromS3(on: Instance, url: string) {
    // (PUBLIC_URL is left at its default, http://localhost:<port>: the instance's own port.)
    const { port, pathname } = new URL(url);
    expect(port).toBe(new URL(on.server.url).port);
    expect(pathname.startsWith("/media/")).toBe(true);
    const res = await api(on, pathname);
    expect(res.status).toBe(302);
    const location = res.headers.get("location")!;
    expect(location.startsWith(`${s3.endpoint}/${s3.bucket}/`)).toBe(true);
    const served = await fetch(location);
    expect(served.status).toBe(200);
    const bytes = new Uint8Array(await served.arrayBuffer());
    const key = pathname.slice("/media/".length);
    const object = await bucket.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    expect(Buffer.from(bytes).equals(Buffer.from(await object.Body!.transformToByteArray()))).toBe(true);
    return bytes;
  }

  test("an upload through A becomes ready, is in B's feeds, reaches a follower's WebSocket on B, and its media come from S3", async () => {
    const star = await register(A, "scale_out_star");
    const fan = await register(B, "scale_out_fan");
    const follow = await postJson(B, "/api/v1/social/follow", { target_user_id: star.id }, fan.token);
    expect(follow.status).toBe(201);
    const fanOnB = await WsClient.connect(B.server.url, fan.token);

    const postId = await upload(A, star, shortWav, "Across instances");
    const np = await fanOnB.next("new_post", 90_000);
    expect(np.payload).toMatchObject({ id: postId, author: { id: star.id }, post: { id: postId, status: "ready" } });
    expect(await pollStatus(B, postId, star, (st) => st.status !== "processing")).toMatchObject({ status: "ready", progress: 100 });
    expect(await jobRow(postId)).toMatchObject({ status: "done", attempts: 1 });

    // B's global feed (anonymous) and the fan's timeline through B have it.
    const global = (await (await api(B, "/api/v1/feed/global")).json()) as { posts: { id: string }[] };
    expect(global.posts.map((p) => p.id)).toContain(postId);
    const timeline = (await (await api(B, "/api/v1/feed/timeline", { token: fan.token })).json()) as { posts: { id: string }[] };
    expect(timeline.posts.map((p) => p.id)).toContain(postId);

    // Its media, as B hands them out: redirects to the bucket; the MP3 is a whole 128 kbps file.
    const post = (await (await api(B, `/api/v1/posts/${postId}`)).json()) as { status: string; mp3_url: string; audio_url: string };
    expect(post.status).toBe("ready");
    expect(inspectMp3(await mediaFromS3(B, post.mp3_url))?.cbrKbps).toBe(128);
    expect((await mediaFromS3(B, post.audio_url)).length).toBeGreaterThan(0);
    // Nothing was written to either instance's local media directory.
    for (const i of [A, B]) {
      const media = join(i.server.dataDir, "media");
      expect(existsSync(media) ? readdirSync(media, { recursive: true }).filter((f) => String(f).includes(".")) : []).toEqual([]);
    }
    await fanOnB.close();
  }, 120_000);

  test("a rate limit spent half through A and half through B refuses the next request on either", async () => {
    const poll = (on: Instance) => postJson(on, "/api/v1/auth/device/token", { device_code: "no-such-device-code" });
    for (const on of [A, A, B, B]) {
      const res = await poll(on);
      expect(res.status).toBe(400); // an unknown code, counted against the budget
    }
    // Counted per instance, A would allow a third poll; counted in Redis the budget is spent for both.
    for (const on of [A, B]) {
      const res = await poll(on);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    }
  }, 30_000);

  test("a job survives kill -9 of the instance that held it: the other instance finishes it", async () => {
    const producer = await register(B, "scale_out_producer");
    const postId = await upload(A, producer, longWav, "Long take");

    // Wait until some instance runs the job and has reported progress; it is that instance that dies.
    await pollStatus(B, postId, producer, (st) => st.status !== "processing" || st.progress > 0);
    const running = await jobRow(postId);
    expect(running).toMatchObject({ status: "running", attempts: 1 });
    const holder = [A, B].find((i) => i.worker === running.locked_by)!;
    const survivor = holder === A ? B : A;
    expect(holder).toBeDefined();
    alive.delete(holder.server);
    expect(await holder.server.stop("SIGKILL")).not.toBe(0);
    killOrphans(holder.tmp);
    // The row still says running: the dead instance's claim until its lease expires (or already the survivor's).
    const orphaned = await jobRow(postId);
    expect(orphaned.status).toBe("running");
    expect([holder.worker, survivor.worker]).toContain(orphaned.locked_by!);

    // The survivor takes the job over once its lease has expired, and the post becomes ready.
    const done = await pollStatus(survivor, postId, producer, (st) => st.status !== "processing");
    expect(done).toMatchObject({ status: "ready", progress: 100 });
    expect(await jobRow(postId)).toMatchObject({ status: "done", attempts: 2, locked_by: null });
    const logs = survivor.server.stdout.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    expect(logs.some((l) => l.msg === "job done" && l.job_type === "process-loop" && l.attempt === 2)).toBe(true);

    // The delivered loop is whole and in the bucket.
    const post = (await (await api(survivor, `/api/v1/posts/${postId}`)).json()) as { status: string; duration_seconds: number; mp3_url: string };
    expect(post.status).toBe("ready");
    expect(Math.abs(post.duration_seconds - LONG_SECONDS)).toBeLessThan(1152 / 44100);
    expect(inspectMp3(await mediaFromS3(survivor, post.mp3_url))?.cbrKbps).toBe(128);
  }, 180_000);
});

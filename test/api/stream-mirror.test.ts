// The Stream.io mirror against a local stand-in for Stream's feeds API (test/support/stream-server.ts) that checks
// the API key and the server token's HS256 signature, on bun:sqlite and on a real sqld. Users, ready posts (with
// their audio metadata), follows, reactions and deletions reach Stream through stream-mirror jobs; an outage fails
// no user request and loses nothing, and after it every object exists in Stream exactly once.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { StreamClient } from "@stream-io/node-sdk";
import { sql } from "drizzle-orm";
import { registerStreamMirror, STREAM_MIRROR } from "../../src/integrations/stream.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { json, registerUser, registerProducer } from "../support/auth.ts";
import { insertFollow, insertReadyPost } from "../support/ready-posts.ts";
import { startFakeStream, type FakeStream } from "../support/stream-server.ts";

const API_KEY = "mirror-test-key";
const SECRET = "mirror-test-secret-0123456789abcdefghijklmnopqrstuvwxyz";

async function mirroredEnv(driver: "sqlite" | "libsql", fake: FakeStream, extra: Record<string, string> = {}) {
  const env = await createTestEnv(driver, {
    STREAM_API_KEY: API_KEY,
    STREAM_API_SECRET: SECRET,
    // With a trailing slash, as an operator may write it (the config drops it: the SDK appends "/api/v2/...").
    STREAM_BASE_URL: `${fake.url}/`,
    JOB_POLL_MS: "20",
    RATE_LIMIT_AUTH_PER_MIN: "10000",
    PUBLIC_URL: "http://localhost:8787",
    ...extra,
  });
  registerStreamMirror(env.deps);
  await env.deps.jobs.start();
  return env;
}

type JobState = { status: string; attempts: number; run_at: number; last_error: string | null };
const mirrorJobs = (env: TestEnv) =>
  env.deps.database.db.all<JobState>(sql`SELECT status, attempts, run_at, last_error FROM jobs WHERE type = ${STREAM_MIRROR}`);

/**
 * Waits until `done(jobs)` holds. Retries wait for their backoff on the deps clock, which tests drive: when nothing
 * runs and the next queued job is due later, the clock moves to it (never while a job runs: its lease would expire).
 */
async function settle(env: TestEnv, done: (jobs: JobState[]) => boolean, { moveClock = true } = {}) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const jobs = await mirrorJobs(env);
    if (done(jobs)) return jobs;
    if (Date.now() > deadline) throw new Error(`mirror jobs did not settle: ${JSON.stringify(jobs)}`);
    const queued = jobs.filter((j) => j.status === "queued");
    if (moveClock && queued.length && !jobs.some((j) => j.status === "running")) {
      const next = Math.min(...queued.map((j) => Number(j.run_at)));
      if (next > env.clock.now()) env.clock.set(next);
    }
    env.deps.jobs.wake();
    await Bun.sleep(10);
  }
}
/** Every mirror job finished (all of them succeeded: none failed for good). */
const drain = async (env: TestEnv) => {
  const jobs = await settle(env, (js) => js.every((j) => j.status === "done" || j.status === "failed"));
  expect(jobs.filter((j) => j.status === "failed")).toEqual([]);
};
/** Every mirror job was tried at least once and none is running (during an outage: each failed once). */
const triedOnce = (env: TestEnv) =>
  settle(env, (js) => js.every((j) => j.status !== "running" && (j.attempts > 0 || j.status === "done")), { moveClock: false });

for (const driver of DRIVERS) {
  describe(`stream mirror on ${driver}`, () => {
    let fake: FakeStream;
    let env: TestEnv;
    beforeAll(async () => {
      fake = await startFakeStream({ apiKey: API_KEY, secret: SECRET });
    });
    afterAll(() => fake.stop());
    afterEach(() => env?.close());

    const producer = () => registerProducer(env);
    const send = (method: string, path: string, body: unknown, token: string) => env.request(`/api/v1${path}`, { method, json: body, token });
    async function succeeds(res: Response) {
      const body = await json(res);
      expect({ status: res.status < 300 ? "2xx" : res.status, body: "error" in body ? body : "no error" }).toEqual({ status: "2xx", body: "no error" });
      return body;
    }
    const unauthorized = () => fake.calls.filter((c) => c.status === 401);
    const addsOf = (postId: string) => fake.ok().filter((c) => c.method === "POST" && c.path === "/api/v2/feeds/activities" && c.body?.id === postId);

    test("users, a ready post with its audio metadata, follows, reactions and deletions reach Stream", async () => {
      env = await mirroredEnv(driver, fake);
      const [author, fan] = [await producer(), await producer()];
      await drain(env);
      // sign-up: the user and both of their feeds
      expect(fake.users.get(author.id)).toEqual({ id: author.id, name: author.username, custom: { username: author.username } });
      for (const f of [`user:${author.id}`, `timeline:${author.id}`, `user:${fan.id}`, `timeline:${fan.id}`]) expect(fake.feeds.has(f)).toBe(true);

      // a profile change
      await succeeds(await send("PUT", "/users/me", { display_name: "Night Beats" }, author.token));
      await drain(env);
      expect(fake.users.get(author.id).name).toBe("Night Beats");

      // a follow: timeline:<follower> → user:<followee>
      await succeeds(await send("POST", "/social/follow", { target_user_id: author.id }, fan.token));
      await drain(env);
      expect([...fake.follows]).toEqual([`timeline:${fan.id} user:${author.id}`]);

      // a ready post: an activity on user:<author> whose id is the post id, audio metadata in custom
      const postId = await insertReadyPost(env, author.id, "Midnight chords");
      await drain(env);
      const post = await json(await env.request(`/api/v1/posts/${postId}`, { token: fan.token }));
      expect(fake.activities.get(postId)).toEqual({
        id: postId,
        type: "post",
        feeds: [`user:${author.id}`],
        user_id: author.id,
        text: "Midnight chords",
        custom: {
          object: `loop:${postId}`,
          audio_url: post.audio_url,
          mp3_url: post.mp3_url,
          waveform_url: post.waveform_url,
          waveform_svg_url: post.waveform_svg_url,
          peaks_url: post.peaks_url,
          filename: "Midnight chords",
          duration_seconds: 8,
          duration_bars: 4,
          bpm: 120,
          key: "Am",
          daw: "Ableton Live",
          genres: ["lofi"],
          loudness_lufs: -14,
        },
      });

      // reactions: set, replaced (one per user, like ours), removed
      await succeeds(await send("POST", "/feed/like", { activity_id: postId, emoji: "🔥" }, fan.token));
      await drain(env);
      expect(fake.reactions.get(`${postId} ${fan.id}`)).toEqual({ type: "like", custom: { emoji: "🔥" } });
      await succeeds(await send("POST", "/feed/like", { activity_id: postId, emoji: "💯" }, fan.token));
      await drain(env);
      expect([...fake.reactions]).toEqual([[`${postId} ${fan.id}`, { type: "like", custom: { emoji: "💯" } }]]);
      await succeeds(await send("POST", "/feed/unlike", { activity_id: postId }, fan.token));
      await drain(env);
      expect(fake.reactions.size).toBe(0);

      // an unfollow, and the post's deletion
      await succeeds(await send("POST", "/social/unfollow", { target_user_id: author.id }, fan.token));
      await succeeds(await send("DELETE", `/posts/${postId}`, undefined, author.token));
      await drain(env);
      expect(fake.follows.size).toBe(0);
      expect(fake.activities.has(postId)).toBe(false);

      // every call carried the API key and a valid server token; every object was created once
      expect(unauthorized()).toEqual([]);
      expect([...fake.creates].filter(([, n]) => n !== 1)).toEqual([]);
      expect(addsOf(postId).length).toBe(1);
    });

    test("during an outage every request succeeds; after it every object reaches Stream exactly once", async () => {
      env = await mirroredEnv(driver, fake);
      fake.mode("down");
      const okBefore = fake.ok().length;
      const [author, fan, other] = [await producer(), await producer(), await producer()];
      await succeeds(await send("PUT", "/users/me", { display_name: "Outage Beats" }, author.token));
      await succeeds(await send("POST", "/social/follow", { target_user_id: author.id }, fan.token));
      await succeeds(await send("POST", "/social/unfollow", { target_user_id: author.id }, fan.token));
      await succeeds(await send("POST", "/social/follow", { target_user_id: author.id }, fan.token));
      const kept = await insertReadyPost(env, author.id, "Kept");
      const deleted = await insertReadyPost(env, author.id, "Deleted");
      await succeeds(await send("POST", "/feed/like", { activity_id: kept, emoji: "🔥" }, fan.token));
      await succeeds(await send("POST", "/feed/unlike", { activity_id: kept }, fan.token));
      await succeeds(await send("POST", "/feed/like", { activity_id: `loop:${kept}`, emoji: "😍" }, fan.token));
      await succeeds(await send("POST", "/feed/like", { activity_id: kept, emoji: "🚀" }, other.token));
      await succeeds(await send("POST", "/feed/like", { activity_id: deleted }, other.token));
      await succeeds(await send("POST", "/social/play", { activity_id: kept }, other.token));
      await succeeds(await send("DELETE", `/posts/${deleted}`, undefined, author.token));
      // the local answers never depended on Stream
      const read = await succeeds(await env.request(`/api/v1/posts/${kept}`, { token: fan.token }));
      expect({ like_count: read.like_count, play_count: read.play_count }).toEqual({ like_count: 2, play_count: 1 });

      const tried = await triedOnce(env);
      expect(fake.ok().length).toBe(okBefore); // nothing got through
      expect(tried.some((j) => j.status === "queued" && j.attempts >= 1 && /503|unavailable/i.test(j.last_error ?? ""))).toBe(true);

      fake.mode("up");
      await drain(env);
      expect(fake.users.get(author.id)?.name).toBe("Outage Beats");
      for (const u of [author, fan, other]) expect(fake.users.has(u.id)).toBe(true);
      expect(fake.follows.has(`timeline:${fan.id} user:${author.id}`)).toBe(true);
      expect(fake.activities.has(kept)).toBe(true);
      expect(fake.activities.has(deleted)).toBe(false);
      expect(addsOf(deleted)).toEqual([]); // a post deleted before Stream saw it never reaches it
      expect(addsOf(kept).length).toBe(1);
      expect(fake.reactions.get(`${kept} ${fan.id}`)).toEqual({ type: "like", custom: { emoji: "😍" } });
      expect(fake.reactions.get(`${kept} ${other.id}`)).toEqual({ type: "like", custom: { emoji: "🚀" } });
      // exactly once per object: each user, feed, activity, follow and reaction was created once
      for (const key of [
        `activity:${kept}`,
        `follow:timeline:${fan.id} user:${author.id}`,
        `reaction:${kept} ${fan.id}`,
        `reaction:${kept} ${other.id}`,
        `user:${author.id}`,
      ]) {
        expect({ key, creates: fake.creates.get(key) }).toEqual({ key, creates: 1 });
      }
      expect([...fake.creates].filter(([, n]) => n !== 1)).toEqual([]);
      // the reaction events queued during the outage were coalesced: one successful write for the final state
      expect(fake.ok().filter((c) => c.path === `/api/v2/feeds/activities/${kept}/reactions` && c.body?.user_id === fan.id).length).toBe(1);
      expect(unauthorized()).toEqual([]);
    });

    test("answers lost after Stream applied a call are retried with the same ids: no duplicate activity or reaction", async () => {
      env = await mirroredEnv(driver, fake);
      const [author, fan] = [await producer(), await producer()];
      await insertFollow(env, fan.id, author.id);
      await drain(env);
      fake.mode("lose-answers");
      const postId = await insertReadyPost(env, author.id, "Lossy");
      await settle(env, (js) => js.every((j) => j.status !== "running" && j.attempts > 0), { moveClock: false });
      await succeeds(await send("POST", "/feed/like", { activity_id: postId, emoji: "🎵" }, fan.token));
      await triedOnce(env);
      expect(fake.activities.has(postId)).toBe(true); // applied, but the job was told it failed
      fake.mode("up");
      await drain(env);
      expect(fake.calls.filter((c) => c.method === "POST" && c.path === "/api/v2/feeds/activities" && c.body?.id === postId).length).toBeGreaterThanOrEqual(2);
      expect(fake.creates.get(`activity:${postId}`)).toBe(1);
      expect(fake.creates.get(`reaction:${postId} ${fan.id}`)).toBe(1);
      expect(fake.reactions.get(`${postId} ${fan.id}`)).toEqual({ type: "like", custom: { emoji: "🎵" } });
      expect(unauthorized()).toEqual([]);
    });
  });
}

describe("stream mirror switched off", () => {
  let env: TestEnv;
  afterEach(() => env?.close());

  test("without STREAM_API_KEY and STREAM_API_SECRET no mirror job is ever written", async () => {
    env = await createTestEnv("sqlite", { STREAM_API_KEY: "only-the-key" });
    registerStreamMirror(env.deps); // does nothing without both settings
    const [author, fan] = [(await registerUser(env)).auth, (await registerUser(env)).auth];
    const postId = await insertReadyPost(env, author.user.id);
    expect((await env.request("/api/v1/feed/like", { method: "POST", json: { activity_id: postId }, token: fan.token })).status).toBe(200);
    expect((await env.request("/api/v1/social/follow", { method: "POST", json: { target_user_id: author.user.id }, token: fan.token })).status).toBeLessThan(
      300,
    );
    expect(await mirrorJobs(env)).toEqual([]);
  });
});

describe("the Stream stand-in", () => {
  test("refuses a wrong API key or a token not signed with the secret", async () => {
    const fake = await startFakeStream({ apiKey: API_KEY, secret: SECRET });
    try {
      const opts = { basePath: fake.url, timeout: 2000 };
      await expect(new StreamClient("wrong-key", SECRET, opts).upsertUsers([{ id: "u1" }])).rejects.toThrow();
      await expect(new StreamClient(API_KEY, "another secret entirely, long enough to sign", opts).upsertUsers([{ id: "u1" }])).rejects.toThrow();
      expect(fake.calls.map((c) => c.status)).toEqual([401, 401]);
      expect(fake.users.size).toBe(0);
      await new StreamClient(API_KEY, SECRET, opts).upsertUsers([{ id: "u1" }]);
      expect(fake.users.has("u1")).toBe(true);
    } finally {
      await fake.stop();
    }
  });
});

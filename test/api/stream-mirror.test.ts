// The Stream.io mirror against a local stand-in for Stream's feeds API (test/support/stream-server.ts), as strict as
// the documented API: it checks the API key and the server token's HS256 signature, knows only the built-in feed
// groups, refuses users it does not know unless create_users, keys reactions by activity, user and type and honours
// hard_delete. On bun:sqlite it answers "does not exist" with HTTP 404, on a real sqld with 400 (Stream's code 16 in
// both), so every scenario meets both answers. Users, ready posts, follows, reactions and deletions reach Stream
// through stream-mirror jobs; an outage fails no user request and loses nothing; a step whose prerequisite Stream
// lacks makes it true first; and a community that switches Stream on later is backfilled until Stream holds exactly
// our state, through an outage in the middle.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { StreamClient } from "@stream-io/node-sdk";
import { eq, sql } from "drizzle-orm";
import { loadConfig } from "../../src/config.ts";
import { users } from "../../src/db/schema.ts";
import type { Deps } from "../../src/deps.ts";
import { buildDeps } from "../../src/index.ts";
import { createApp } from "../../src/app.ts";
import { registerStreamMirror, STREAM_MIRROR } from "../../src/integrations/stream.ts";
import { queueStreamBackfill, readBackfill, registerStreamBackfill, STREAM_BACKFILL } from "../../src/integrations/stream-backfill.ts";
import { newUserRow } from "../../src/users/service.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { json, registerProducer, registerUser } from "../support/auth.ts";
import { sidechain } from "../support/cli.ts";
import { insertFollow, insertPost, insertReadyPost } from "../support/ready-posts.ts";
import { type FakeStream, type FakeStreamState, startFakeStream } from "../support/stream-server.ts";

const API_KEY = "mirror-test-key";
const SECRET = "mirror-test-secret-0123456789abcdefghijklmnopqrstuvwxyz";
const streamEnv = (fake: FakeStream) => ({
  STREAM_API_KEY: API_KEY,
  STREAM_API_SECRET: SECRET,
  // With a trailing slash, as an operator may write it (the config drops it: the SDK appends "/api/v2/...").
  STREAM_BASE_URL: `${fake.url}/`,
});
const BASE = { JOB_POLL_MS: "20", RATE_LIMIT_AUTH_PER_MIN: "10000", PUBLIC_URL: "http://localhost:8787" };

/** The server's start with Stream on: the mirror and backfill handlers, the runner, and the backfill queued. */
async function startMirror(deps: Deps) {
  registerStreamMirror(deps);
  registerStreamBackfill(deps);
  await deps.jobs.start();
  await queueStreamBackfill(deps);
}

async function mirroredEnv(driver: "sqlite" | "libsql", fake: FakeStream) {
  const env = await createTestEnv(driver, { ...streamEnv(fake), ...BASE });
  await startMirror(env.deps);
  await drain(env.deps, env); // the backfill of an empty community
  return env;
}

type JobState = { type: string; status: string; attempts: number; run_at: number; last_error: string | null };
const streamJobs = (deps: Deps) =>
  deps.database.db.all<JobState>(
    sql`SELECT type, status, attempts, run_at, last_error FROM jobs WHERE type IN (${STREAM_MIRROR}, ${STREAM_BACKFILL}) ORDER BY rowid`,
  );

/**
 * Waits until `done(jobs)` holds. Retries wait for their backoff on the deps clock, which tests drive: when nothing
 * runs and the next queued job is due later, the clock moves to it (never while a job runs: its lease would expire).
 */
async function settle(deps: Deps, env: TestEnv, done: (jobs: JobState[]) => boolean, { moveClock = true } = {}) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const jobs = await streamJobs(deps);
    if (done(jobs)) return jobs;
    if (Date.now() > deadline) throw new Error(`stream jobs did not settle: ${JSON.stringify(jobs)}`);
    const queued = jobs.filter((j) => j.status === "queued");
    if (moveClock && queued.length && !jobs.some((j) => j.status === "running")) {
      const next = Math.min(...queued.map((j) => Number(j.run_at)));
      if (next > env.clock.now()) env.clock.set(next);
    }
    deps.jobs.wake();
    await Bun.sleep(10);
  }
}
/** Every stream job finished (all of them succeeded: none failed for good). */
async function drain(deps: Deps, env: TestEnv) {
  const jobs = await settle(deps, env, (js) => js.every((j) => j.status === "done" || j.status === "failed"));
  expect(jobs.filter((j) => j.status === "failed")).toEqual([]);
}
/** Every stream job was tried at least once and none is running (during an outage: each failed once). */
const triedOnce = (deps: Deps, env: TestEnv) =>
  settle(deps, env, (js) => js.every((j) => j.status !== "running" && (j.attempts > 0 || j.status === "done")), { moveClock: false });

/** What Stream should hold, read from our database with the mirror's rules (README "Stream.io mirror"). */
async function ourState(deps: Deps): Promise<FakeStreamState> {
  const db = deps.database.db;
  const us = await db.all<{ id: string; username: string; display_name: string }>(
    sql`SELECT id, username, display_name FROM users WHERE approval = 'approved' ORDER BY id`,
  );
  const ps = await db.all<{ id: string; user_id: string; title: string }>(sql`SELECT id, user_id, title FROM posts WHERE status = 'ready' ORDER BY id`);
  const fs = await db.all<{ a: string; b: string }>(sql`SELECT follower_id AS a, followee_id AS b FROM follows`);
  const rs = await db.all<{ user_id: string; post_id: string; emoji: string }>(
    sql`SELECT r.user_id, r.post_id, r.emoji FROM reactions r JOIN posts p ON p.id = r.post_id AND p.status = 'ready'`,
  );
  return {
    users: us.map((u) => ({ id: u.id, name: u.display_name || u.username, custom: { username: u.username } })),
    feeds: us.flatMap((u) => [`timeline:${u.id}`, `user:${u.id}`]).sort(),
    activities: ps.map((p) => ({
      id: p.id,
      user_id: p.user_id,
      feeds: [`user:${p.user_id}`],
      text: p.title,
      custom: expect.objectContaining({ object: `loop:${p.id}` }),
    })),
    follows: fs.map((f) => `timeline:${f.a} user:${f.b}`).sort(),
    reactions: rs
      .map((r) => ({ activity_id: r.post_id, user_id: r.user_id, type: "like", custom: { emoji: r.emoji } }))
      .sort((x, y) => (`${x.activity_id} ${x.user_id}` < `${y.activity_id} ${y.user_id}` ? -1 : 1)),
  };
}
const holdsOurState = async (fake: FakeStream, deps: Deps) => expect(fake.snapshot()).toEqual(await ourState(deps));

for (const driver of DRIVERS) {
  // sqlite: "does not exist" is HTTP 404; libsql: HTTP 400 (Stream's code 16 either way).
  const notFoundStatus = driver === "sqlite" ? 404 : 400;
  describe(`stream mirror on ${driver}`, () => {
    let fake: FakeStream;
    let env: TestEnv;
    beforeAll(async () => {
      fake = await startFakeStream({ apiKey: API_KEY, secret: SECRET, notFoundStatus });
    });
    beforeEach(() => fake.reset());
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
    /** The calls made while `fn` ran and its jobs drained, as "METHOD path". */
    async function callsOf(fn: () => Promise<unknown>) {
      const from = fake.calls.length;
      await fn();
      await drain(env.deps, env);
      return fake.calls.slice(from).map((c) => `${c.method} ${c.path.replace(/[0-9a-f-]{36}/g, ":id")}`);
    }
    const drained = () => drain(env.deps, env);
    /** The same database restarted with Stream on (a second set of deps, as a new process), and requests to it. */
    async function withStreamOn(off: TestEnv) {
      const { DATA_DIR, DATABASE_URL, JWT_SECRET } = off.deps.config;
      const on = await buildDeps(
        loadConfig({ ...BASE, ...streamEnv(fake), DATA_DIR, JWT_SECRET, LOG_LEVEL: "error", ...(DATABASE_URL ? { DATABASE_URL } : {}) }),
        { clock: off.clock },
      );
      const onApp = createApp(on);
      const sendOn = (method: string, path: string, body: unknown, token: string) =>
        onApp.handle(
          new Request(`http://localhost/api/v1${path}`, {
            method,
            headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          }),
        );
      return { on, sendOn };
    }

    test("users, a ready post with its audio metadata, follows, reactions and deletions reach Stream", async () => {
      env = await mirroredEnv(driver, fake);
      const [author, fan] = [await producer(), await producer()];
      await drained();
      // sign-up: the user and both of their feeds
      expect(fake.users.get(author.id)).toEqual({ id: author.id, name: author.username, custom: { username: author.username } });
      for (const f of [`user:${author.id}`, `timeline:${author.id}`, `user:${fan.id}`, `timeline:${fan.id}`]) expect(fake.feeds.has(f)).toBe(true);

      // a profile change
      await succeeds(await send("PUT", "/users/me", { display_name: "Night Beats" }, author.token));
      await drained();
      expect(fake.users.get(author.id).name).toBe("Night Beats");

      // a follow: timeline:<follower> → user:<followee>
      await succeeds(await send("POST", "/social/follow", { target_user_id: author.id }, fan.token));
      await drained();
      expect([...fake.follows]).toEqual([`timeline:${fan.id} user:${author.id}`]);

      // a ready post: an activity on user:<author> whose id is the post id, audio metadata in custom
      const postId = await insertReadyPost(env, author.id, "Midnight chords");
      await drained();
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
      await drained();
      expect([...fake.reactions]).toEqual([[`${postId} ${fan.id} like`, { emoji: "🔥" }]]);
      await succeeds(await send("POST", "/feed/like", { activity_id: postId, emoji: "💯" }, fan.token));
      await drained();
      expect([...fake.reactions]).toEqual([[`${postId} ${fan.id} like`, { emoji: "💯" }]]);
      await succeeds(await send("POST", "/feed/unlike", { activity_id: postId }, fan.token));
      await drained();
      expect(fake.reactions.size).toBe(0);

      // an unfollow, and the post's deletion (hard: its reactions go with it)
      await succeeds(await send("POST", "/feed/like", { activity_id: postId, emoji: "🎵" }, fan.token));
      await succeeds(await send("POST", "/social/unfollow", { target_user_id: author.id }, fan.token));
      await drained();
      await succeeds(await send("DELETE", `/posts/${postId}`, undefined, author.token));
      await drained();
      expect(fake.follows.size).toBe(0);
      expect(fake.activities.has(postId)).toBe(false);
      expect(fake.reactions.size).toBe(0);
      expect(fake.calls.filter((c) => c.method === "DELETE" && c.path === `/api/v2/feeds/activities/${postId}`).map((c) => c.query.hard_delete)).toEqual([
        "true",
      ]);

      // every call carried the API key and a valid server token; every object was created once
      expect(unauthorized()).toEqual([]);
      // (the fan's reaction was removed and made again: twice)
      expect([...fake.creates].filter(([, n]) => n !== 1)).toEqual([[`reaction:${postId} ${fan.id} like`, 2]]);
      expect(addsOf(postId).length).toBe(1);
      await holdsOurState(fake, env.deps);
    });

    test("feeds are created once, with the account: a post, a follow and a profile change cost one call each", async () => {
      env = await mirroredEnv(driver, fake);
      let author = undefined as unknown as Awaited<ReturnType<typeof producer>>;
      expect(await callsOf(async () => (author = await producer()))).toEqual([
        "POST /api/v2/users",
        "POST /api/v2/feeds/feed_groups/user/feeds/:id",
        "POST /api/v2/feeds/feed_groups/timeline/feeds/:id",
      ]);
      const fan = await producer();
      await drained();
      expect(await callsOf(() => send("PUT", "/users/me", { display_name: "Once" }, author.token))).toEqual(["POST /api/v2/users"]);
      expect(await callsOf(() => insertReadyPost(env, author.id))).toEqual(["POST /api/v2/feeds/activities"]);
      expect(await callsOf(() => send("POST", "/social/follow", { target_user_id: author.id }, fan.token))).toEqual(["POST /api/v2/feeds/follows/upsert"]);
      // the calls that name users let Stream create one it does not know yet
      expect(
        fake.calls.filter((c) => c.path === "/api/v2/feeds/activities" || c.path === "/api/v2/feeds/follows/upsert").map((c) => c.body.create_users),
      ).toEqual([true, true]);
    });

    test("a step whose prerequisite Stream lacks makes it true first: activity before reaction, feed before post and follow, user before feed", async () => {
      env = await mirroredEnv(driver, fake);
      const [author, fan] = [await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id, "Ordered");
      await drained();

      // Stream lost the activity (as if the reaction's job ran before the post's): the reaction job adds it first.
      fake.activities.delete(postId);
      await succeeds(await send("POST", "/feed/like", { activity_id: postId, emoji: "🚀" }, fan.token));
      await drained();
      expect(fake.activities.get(postId)?.text).toBe("Ordered");
      expect(fake.reactions.get(`${postId} ${fan.id} like`)).toEqual({ emoji: "🚀" });

      // Stream lacks the author's feed and the author (as before a backfill): the post job creates the user, then
      // the feed, then adds the activity; the follow job creates the follower's timeline.
      fake.users.delete(author.id);
      fake.feeds.delete(`user:${author.id}`);
      fake.feeds.delete(`timeline:${fan.id}`);
      const second = await insertReadyPost(env, author.id, "Second");
      await succeeds(await send("POST", "/social/follow", { target_user_id: author.id }, fan.token));
      await drained();
      expect(fake.activities.has(second)).toBe(true);
      expect(fake.follows.has(`timeline:${fan.id} user:${author.id}`)).toBe(true);

      // A reaction to a post deleted before its job ran: nothing to add, the job is done.
      const gone = await insertReadyPost(env, author.id, "Gone");
      await drained();
      fake.activities.delete(gone);
      await succeeds(await send("POST", "/feed/like", { activity_id: gone, emoji: "🔥" }, fan.token));
      await succeeds(await send("DELETE", `/posts/${gone}`, undefined, author.token));
      await drained();
      expect(fake.activities.has(gone)).toBe(false);
      expect(fake.calls.some((c) => c.status === notFoundStatus && c.path.startsWith("/api/v2/feeds/activities/"))).toBe(true);
      await holdsOurState(fake, env.deps);
      expect(unauthorized()).toEqual([]);
    });

    test(`deleting what Stream no longer has (does-not-exist answered with HTTP ${notFoundStatus}) is done, not retried`, async () => {
      env = await mirroredEnv(driver, fake);
      const [author, fan] = [await producer(), await producer()];
      await succeeds(await send("POST", "/social/follow", { target_user_id: author.id }, fan.token));
      const postId = await insertReadyPost(env, author.id);
      await succeeds(await send("POST", "/feed/like", { activity_id: postId, emoji: "🔥" }, fan.token));
      await drained();
      // Someone removed them on Stream's side already.
      fake.reactions.clear();
      fake.follows.clear();
      await succeeds(await send("POST", "/feed/unlike", { activity_id: postId }, fan.token));
      await succeeds(await send("POST", "/social/unfollow", { target_user_id: author.id }, fan.token));
      await drained();
      fake.activities.delete(postId);
      await succeeds(await send("DELETE", `/posts/${postId}`, undefined, author.token));
      await drained();
      // (a follow right after sign-up may meet its feeds missing and create them first: not a delete, not counted)
      const refused = fake.calls.filter((c) => c.status >= 400 && c.method === "DELETE");
      expect(refused.map((c) => c.status)).toEqual([notFoundStatus, notFoundStatus]); // the reaction's and the activity's delete, once each
      expect((await streamJobs(env.deps)).filter((j) => j.attempts > 1)).toEqual([]);
    });

    test("deleting an account deletes the user and their feeds from Stream", async () => {
      env = await mirroredEnv(driver, fake);
      const [, leaver, fan] = [await producer(), await producer(), await producer()]; // the first is the owner, who cannot leave
      await succeeds(await send("POST", "/social/follow", { target_user_id: leaver.id }, fan.token));
      await insertReadyPost(env, leaver.id, "Leaving");
      await drained();
      expect(fake.users.has(leaver.id)).toBe(true);
      await succeeds(await send("POST", "/users/me/delete", { password: "correct horse battery staple" }, leaver.token));
      await drained();
      expect(fake.users.has(leaver.id)).toBe(false);
      expect([...fake.feeds.keys()].filter((f) => f.endsWith(leaver.id))).toEqual([]);
      expect(fake.calls.filter((c) => c.path === "/api/v2/users/delete").map((c) => c.body)).toEqual([{ user_ids: [leaver.id], user: "hard" }]);
      await holdsOurState(fake, env.deps);
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

      const tried = await triedOnce(env.deps, env);
      expect(fake.ok().length).toBe(okBefore); // nothing got through
      expect(tried.some((j) => j.status === "queued" && j.attempts >= 1 && /503|unavailable/i.test(j.last_error ?? ""))).toBe(true);

      fake.mode("up");
      await drained();
      expect(fake.users.get(author.id)?.name).toBe("Outage Beats");
      expect(fake.activities.has(deleted)).toBe(false);
      expect(addsOf(deleted)).toEqual([]); // a post deleted before Stream saw it never reaches it
      // once by its own job; at most once more by a reaction job that ran first and added it as its prerequisite
      expect(addsOf(kept).length).toBeLessThanOrEqual(2);
      expect(fake.reactions.get(`${kept} ${fan.id} like`)).toEqual({ emoji: "😍" });
      expect(fake.reactions.get(`${kept} ${other.id} like`)).toEqual({ emoji: "🚀" });
      // exactly once per object: each user, feed, activity, follow and reaction was created once
      expect([...fake.creates].filter(([, n]) => n !== 1)).toEqual([]);
      // the reaction events queued during the outage were coalesced: one successful write for the final state
      expect(fake.ok().filter((c) => c.path === `/api/v2/feeds/activities/${kept}/reactions` && c.body?.user_id === fan.id).length).toBe(1);
      expect(unauthorized()).toEqual([]);
      await holdsOurState(fake, env.deps);
    });

    test("answers lost after Stream applied a call are retried with the same ids: no duplicate activity or reaction", async () => {
      env = await mirroredEnv(driver, fake);
      const [author, fan] = [await producer(), await producer()];
      await insertFollow(env, fan.id, author.id);
      await drained();
      fake.mode("lose-answers");
      const postId = await insertReadyPost(env, author.id, "Lossy");
      await settle(env.deps, env, (js) => js.every((j) => j.status !== "running" && (j.attempts > 0 || j.status === "done")), { moveClock: false });
      await succeeds(await send("POST", "/feed/like", { activity_id: postId, emoji: "🎵" }, fan.token));
      await triedOnce(env.deps, env);
      expect(fake.activities.has(postId)).toBe(true); // applied, but the job was told it failed
      fake.mode("up");
      await drained();
      expect(fake.calls.filter((c) => c.method === "POST" && c.path === "/api/v2/feeds/activities" && c.body?.id === postId).length).toBeGreaterThanOrEqual(2);
      expect(fake.creates.get(`activity:${postId}`)).toBe(1);
      expect(fake.creates.get(`reaction:${postId} ${fan.id} like`)).toBe(1);
      expect(fake.reactions.get(`${postId} ${fan.id} like`)).toEqual({ emoji: "🎵" });
      expect(unauthorized()).toEqual([]);
    });

    test("a loop deleted while its batch is being sent, its own delete job already done, is deleted again after the batch", async () => {
      env = await createTestEnv(driver, BASE);
      const author = await producer();
      const loops = [await insertReadyPost(env, author.id, "Kept"), await insertReadyPost(env, author.id, "Deleted meanwhile")];
      const { on, sendOn } = await withStreamOn(env);
      // When the loops' batch reaches Stream, the second loop is deleted and its mirror job runs to the end first
      // (there is no activity yet: nothing to delete). The batch then adds it: only the backfill's re-read of the
      // batch's range can see that it is gone.
      fake.beforeCall(async (call) => {
        if (call.path !== "/api/v2/feeds/activities/batch") return;
        fake.beforeCall(null);
        await succeeds(await sendOn("DELETE", `/posts/${loops[1]}`, undefined, author.token));
        await settle(on, env, (js) => js.some((j) => j.type === STREAM_MIRROR && j.status === "done"), { moveClock: false });
      });
      try {
        await startMirror(on);
        await drain(on, env);
        expect(fake.calls.some((c) => c.path === "/api/v2/feeds/activities/batch" && c.body.activities.some((a: { id: string }) => a.id === loops[1]))).toBe(
          true,
        );
        expect([...fake.activities.keys()]).toEqual([loops[0]]);
        await holdsOurState(fake, on);
      } finally {
        await on.close({ graceMs: 1000 });
      }
    });

    test("a community that switches Stream on later is backfilled, through an outage, until Stream holds exactly our state", async () => {
      // Built with Stream off: no mirror job is ever written.
      env = await createTestEnv(driver, BASE);
      const [a, b, c] = [await producer(), await producer(), await producer()];
      const now = env.clock.now();
      const crowd = Array.from({ length: 130 }, (_, i) =>
        newUserRow(
          { email: `crowd${i}@example.com`, emailVerified: true, username: `crowd${i}`, displayName: i % 2 ? `Crowd ${i}` : "", passwordHash: null },
          now,
        ),
      );
      await env.deps.database.db.insert(users).values(crowd);
      const waiting = crowd[7]!;
      await env.deps.database.db.update(users).set({ approval: "pending" }).where(eq(users.id, waiting.id));
      const loops: string[] = [];
      for (let i = 0; i < 110; i++) loops.push(await insertReadyPost(env, [a, b, c][i % 3]!.id, `Old loop ${i}`));
      await insertPost(env, a.id, "Still processing");
      await succeeds(await send("DELETE", `/posts/${loops.pop()}`, undefined, b.token)); // loop 109 is b's
      for (const u of crowd.filter((u) => u !== waiting).slice(0, 120)) await insertFollow(env, u.id, [a, b, c][u.username.length % 3]!.id);
      await insertFollow(env, a.id, b.id);
      const emojis = ["🎵", "❤️", "🔥", "😍", "🚀", "💯"];
      for (let i = 0; i < 105; i++)
        await succeeds(await send("POST", "/feed/like", { activity_id: loops[i]!, emoji: emojis[i % 6] }, [a, b, c][(i + 1) % 3]!.token));
      expect(await streamJobs(env.deps)).toEqual([]);

      // Restarted with Stream on (a second set of deps on the same database, as a new process), while Stream goes
      // down part way through the backfill.
      fake.downAfter(2); // the first batch of users (an upsert and a batch of feeds) gets through
      const { DATA_DIR, DATABASE_URL, JWT_SECRET } = env.deps.config;
      const { on, sendOn } = await withStreamOn(env);
      try {
        await startMirror(on);
        const [failed] = await triedOnce(on, env);
        expect(failed).toMatchObject({ type: STREAM_BACKFILL, status: "queued", attempts: 1 });
        const partial = await readBackfill(on);
        expect(partial).toMatchObject({ phase: "users", sent: { users: 100, posts: 0 } }); // the first batch got through

        // Meanwhile, live changes: a reaction to an old loop (before the backfill sent it), an unfollow, a deletion.
        await succeeds(await sendOn("POST", "/feed/like", { activity_id: loops[106]!, emoji: "💯" }, c.token));
        await succeeds(await sendOn("POST", "/social/unfollow", { target_user_id: b.id }, a.token));
        await succeeds(await sendOn("DELETE", `/posts/${loops[0]}`, undefined, a.token));
        fake.mode("up");
        await drain(on, env);

        const done = await readBackfill(on);
        // 109 loops less the one deleted meanwhile; 121 follows less the unfollow; 105 reactions, one gone with its loop, one new.
        expect(done).toMatchObject({ phase: "done", sent: { users: 132, posts: 108, follows: 120, reactions: 105 } });
        await holdsOurState(fake, on);
        expect(fake.users.has(waiting.id)).toBe(false); // a sign-up waiting for approval is not mirrored
        expect([...fake.creates].filter(([, n]) => n !== 1)).toEqual([]);
        expect(fake.calls.filter((c) => c.path === "/api/v2/feeds/activities/batch").every((c) => c.body.activities.length <= 100)).toBe(true);
        expect(unauthorized()).toEqual([]);

        // Starting again does not backfill again; `sidechain stream` reports it and can send everything again.
        const callsBefore = fake.calls.length;
        await queueStreamBackfill(on);
        await drain(on, env);
        expect(fake.calls.length).toBe(callsBefore);
        const cliEnv = { ...BASE, ...streamEnv(fake), DATA_DIR, JWT_SECRET, ...(DATABASE_URL ? { DATABASE_URL } : {}) };
        const status = await sidechain(cliEnv, "stream", "status");
        expect(status).toMatchObject({ code: 0, err: "" });
        expect(status.out).toMatch(
          /^Backfill: done .*: 132 users, 108 posts, 120 follows, 105 reactions in [\d.]+ s \([\d,]+ objects\/s\)\nMirror jobs: \d+ done$/,
        );
        expect(await sidechain(cliEnv, "stream", "backfill")).toMatchObject({ code: 0, out: expect.stringMatching(/^The backfill is already done/) });
        // Again from the start onto what Stream holds: the batch create of feeds that exist is refused (the stand-in's
        // reading), so those users' feeds go one at a time through get-or-create; nothing is duplicated.
        const from = fake.calls.length;
        const again = await sidechain(cliEnv, "stream", "backfill", "--restart");
        expect(again).toMatchObject({ code: 0, err: "" });
        expect(again.out).toMatch(/Backfill done .*: 132 users, 108 posts, 120 follows, 105 reactions/);
        const resent = fake.calls.slice(from);
        expect(resent.filter((c) => c.path === "/api/v2/feeds/feeds/batch").map((c) => c.status)).toEqual([400, 400]);
        expect(resent.filter((c) => c.path.startsWith("/api/v2/feeds/feed_groups/")).length).toBe(2 * 132);
        expect([...fake.creates].filter(([, n]) => n !== 1)).toEqual([]);
        await holdsOurState(fake, on);
      } finally {
        await on.close({ graceMs: 1000 });
      }
    }, 90_000); // a community of 130 members seeded through a real sqld takes seconds on its own
  });
}

describe("stream mirror switched off", () => {
  let env: TestEnv;
  afterEach(() => env?.close());

  test("without STREAM_API_KEY and STREAM_API_SECRET no mirror job is ever written, and `sidechain stream` says how to switch it on", async () => {
    env = await createTestEnv("sqlite", { STREAM_API_KEY: "only-the-key" });
    registerStreamMirror(env.deps); // does nothing without both settings
    const [author, fan] = [(await registerUser(env)).auth, (await registerUser(env)).auth];
    const postId = await insertReadyPost(env, author.user.id);
    expect((await env.request("/api/v1/feed/like", { method: "POST", json: { activity_id: postId }, token: fan.token })).status).toBe(200);
    expect((await env.request("/api/v1/social/follow", { method: "POST", json: { target_user_id: author.user.id }, token: fan.token })).status).toBeLessThan(
      300,
    );
    await queueStreamBackfill(env.deps);
    expect(await streamJobs(env.deps)).toEqual([]);
    const { DATA_DIR, JWT_SECRET } = env.deps.config;
    const off = await sidechain({ DATA_DIR, JWT_SECRET }, "stream", "backfill");
    expect(off).toMatchObject({ code: 2, err: expect.stringContaining("set STREAM_API_KEY and STREAM_API_SECRET") });
    expect(await sidechain({ DATA_DIR, JWT_SECRET }, "stream", "rewind")).toMatchObject({
      code: 2,
      err: expect.stringContaining('unknown subcommand "rewind"'),
    });
    expect(await sidechain({ DATA_DIR, JWT_SECRET }, "stream", "status", "--restart")).toMatchObject({
      code: 2,
      err: expect.stringContaining("unknown option"),
    });
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

  test("is as strict as the documented API: groups, unknown users, reactions by type, hard_delete, does-not-exist as code 16", async () => {
    const fake = await startFakeStream({ apiKey: API_KEY, secret: SECRET, notFoundStatus: 400 });
    const client = new StreamClient(API_KEY, SECRET, { basePath: fake.url, timeout: 2000 });
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => "accepted",
        (e) => `${e.metadata?.responseCode} ${e.code}`,
      );
    try {
      expect(await refusal(client.feeds.getOrCreateFeed({ feed_group_id: "user", feed_id: "u1", user_id: "u1" }))).toBe("400 16"); // unknown user
      await client.upsertUsers([{ id: "u1" }]);
      expect(await refusal(client.feeds.getOrCreateFeed({ feed_group_id: "beats", feed_id: "u1", user_id: "u1" }))).toBe("400 16"); // unknown group
      await client.feeds.getOrCreateFeed({ feed_group_id: "user", feed_id: "u1", user_id: "u1" });
      const activity = { id: "a1", type: "post", feeds: ["user:u1"], user_id: "u2" };
      expect(await refusal(client.feeds.addActivity(activity))).toBe("400 16"); // u2 unknown, no create_users
      await client.feeds.addActivity({ ...activity, create_users: true });
      expect(fake.users.get("u2")).toEqual({ id: "u2" });
      const like = { activity_id: "a1", type: "like", user_id: "u1" };
      await client.feeds.addActivityReaction(like);
      expect(await refusal(client.feeds.addActivityReaction(like))).toBe("400 4"); // the same type twice
      await client.feeds.addActivityReaction({ ...like, type: "fire" }); // another type is another reaction
      expect([...fake.reactions.keys()]).toEqual(["a1 u1 like", "a1 u1 fire"]);
      await client.feeds.addActivityReaction({ ...like, enforce_unique: true }); // replaces the user's others
      expect([...fake.reactions.keys()]).toEqual(["a1 u1 like"]);
      expect(await refusal(client.upsertUsers(Array.from({ length: 101 }, (_, i) => ({ id: `x${i}` }))))).toBe("400 4");
      expect(await refusal(client.feeds.createFeedsBatch({ feeds: [{ feed_group_id: "user", feed_id: "u1", created_by_id: "u1" }] }))).toBe("400 4");
      // A soft delete hides the activity and keeps its reactions for a restore; a hard one takes them too.
      await client.feeds.deleteActivity({ id: "a1" });
      expect(await refusal(client.feeds.deleteActivity({ id: "a1", hard_delete: true }))).toBe("400 16");
      expect(fake.reactions.size).toBe(1);
      await client.feeds.addActivity({ ...activity, id: "a2", user_id: "u1" });
      await client.feeds.addActivityReaction({ ...like, activity_id: "a2" });
      await client.feeds.deleteActivity({ id: "a2", hard_delete: true });
      expect([...fake.reactions.keys()]).toEqual(["a1 u1 like"]);
      expect(await refusal(client.feeds.deleteActivityReaction({ activity_id: "a2", type: "like", user_id: "u1" }))).toBe("400 16");
    } finally {
      await fake.stop();
    }
  });
});

// Blocks and mutes over real WebSockets (README "Blocking and muting"): once a block is made through the API, no frame
// from or about the other reaches a socket (post_liked on a watched post, notification, follow, new_post, presence),
// even where a follow row would still route it there; a mute keeps the muted user's new_post from the muter only;
// undoing either delivers again. The same across two instances on one real Redis: the block is made through B's API
// and A's sockets stop (and resume) at once. Each "nothing arrived" is proven by a marker frame sent after the event:
// the marker is the next frame, so nothing came before it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { publishFollow, publishNotification, publishPostReady, publishReaction } from "../../src/realtime/events.ts";
import { insertFollow } from "../support/ready-posts.ts";
import { eventually, startRealtime, type Producer, type RealtimeServer } from "../support/realtime.ts";
import { REDIS_SERVER, startRedis, type RedisServer } from "../support/redis.ts";
import type { TestEnv } from "../support/deps.ts";
import type { WsClient } from "../support/ws.ts";

let sentinel = 0;

/** A notification with no actor to `p`: when it is the next frame `c` reads, nothing was delivered before it. */
async function expectNothingBefore(s: RealtimeServer, p: Producer, c: WsClient) {
  const id = `sentinel-${++sentinel}`;
  await publishNotification(s.running.deps, p.id, { id });
  expect((await c.next()).payload).toEqual({ id });
}

const call = (s: RealtimeServer, what: string, who: Producer, target: Producer) =>
  fetch(`${s.url}/api/v1/social/${what}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${who.token}` },
    body: JSON.stringify({ target_user_id: target.id }),
  });

const asEnv = (s: RealtimeServer) => ({ deps: s.running.deps, clock: s.running.deps.clock }) as unknown as TestEnv;

describe("blocks and mutes on one instance", () => {
  let s: RealtimeServer;
  let star: Producer, fan: Producer, muter: Producer, other: Producer;

  beforeAll(async () => {
    s = await startRealtime({ PRESENCE_GRACE_MS: "0" });
    [star, fan, muter, other] = [await s.producer(), await s.producer(), await s.producer(), await s.producer()];
    for (const p of [fan, muter, other]) await s.follow(p, star);
  });
  afterAll(() => s?.stop());

  test("after a block nothing from or about the other arrives, follow row or not; after unblocking it does again", async () => {
    const postId = await s.readyPost(star);
    const starC = await s.connect(star);
    const [fanC, otherC] = [await s.connect(fan), await s.connect(other)];
    fanC.send({ type: "watch", payload: { post_ids: [postId] } });
    expect((await fanC.next("watching")).payload).toEqual({ post_ids: [postId] });
    const like = { postId, ownerId: star.id, actorId: other.id, likeCount: 1, reactionCounts: { "🔥": 1 }, liked: true, emoji: "🔥" };
    // Before: the watcher gets the post's likes and a notification from the star.
    await publishReaction(s.running.deps, like);
    expect((await fanC.next()).type).toBe("post_liked");
    await publishNotification(s.running.deps, fan.id, { id: "before", actor_id: star.id });
    expect((await fanC.next()).payload).toEqual({ id: "before", actor_id: star.id });

    expect((await call(s, "block", star, fan)).status).toBe(201);
    // A follow row written behind the service's back (a race, another writer) must not reopen the door.
    await insertFollow(asEnv(s), fan.id, star.id);
    await publishReaction(s.running.deps, like);
    await publishNotification(s.running.deps, fan.id, { id: "after", actor_id: star.id });
    await publishFollow(s.running.deps, { followerId: star.id, followeeId: fan.id, followerCount: 1 });
    await publishPostReady(s.running.deps, await s.readyPost(star));
    starC.send({ type: "presence", payload: { status: "in_studio", daw: "Bitwig Studio" } });
    // The one who is not blocked still gets the new post and the presence.
    expect((await otherC.next("new_post")).payload.author.id).toBe(star.id);
    expect(await otherC.next("presence")).toMatchObject({ user_id: star.id, is_in_studio: true });
    await expectNothingBefore(s, fan, fanC);
    // The blocker hears nothing of the blocked user either (a frame about the fan, to the star), while the likes of
    // their own loop by others (before and after the block) do reach them.
    for (let i = 0; i < 2; i++) expect((await starC.next()).type).toBe("post_liked");
    await publishFollow(s.running.deps, { followerId: fan.id, followeeId: star.id, followerCount: 3 });
    await expectNothingBefore(s, star, starC);

    expect((await call(s, "unblock", star, fan)).status).toBe(200);
    await publishReaction(s.running.deps, like);
    expect((await fanC.next()).type).toBe("post_liked");
    starC.send({ type: "presence", payload: { status: "online" } });
    expect(await fanC.next()).toMatchObject({ type: "presence", user_id: star.id, status: "online" });
    for (const c of [starC, fanC, otherC]) await c.close();
    await eventually(() => s.running.hub.stats().connections === 0);
  });

  test("a mute keeps the muted user's new posts from the muter's socket only, and unmuting brings them back", async () => {
    const [muterC, otherC] = [await s.connect(muter), await s.connect(other)];
    expect((await call(s, "mute", muter, star)).status).toBe(201);
    await publishPostReady(s.running.deps, await s.readyPost(star));
    expect((await otherC.next("new_post")).payload.author.id).toBe(star.id);
    await expectNothingBefore(s, muter, muterC);
    // A mute hides feed content only: a notification from the muted user still arrives.
    await publishNotification(s.running.deps, muter.id, { id: "from-muted", actor_id: star.id });
    expect((await muterC.next()).payload).toEqual({ id: "from-muted", actor_id: star.id });

    expect((await call(s, "unmute", muter, star)).status).toBe(200);
    const again = await s.readyPost(star);
    await publishPostReady(s.running.deps, again);
    expect((await muterC.next("new_post")).payload.id).toBe(again);
    for (const c of [muterC, otherC]) await c.close();
  });
});

describe.skipIf(!REDIS_SERVER)("blocks across two instances on one Redis", () => {
  let redis: RedisServer;
  let dataDir: string;
  let A: RealtimeServer, B: RealtimeServer;
  let star: Producer, fan: Producer;

  beforeAll(async () => {
    redis = await startRedis();
    dataDir = mkdtempSync(join(tmpdir(), "sc-rt-blocks-"));
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: "blk" };
    A = await startRealtime(env, {}, dataDir);
    B = await startRealtime(env, {}, dataDir);
    [star, fan] = [await A.producer(), await A.producer()];
    await A.follow(fan, star);
  });
  afterAll(async () => {
    await A?.stop({ keepData: true });
    await B?.stop({ keepData: true });
    await redis?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a block made through B stops A's deliveries at once, an unblock through B restarts them", async () => {
    const fanOnA = await A.connect(fan);
    // Caused on B, delivered on A: A has read (and keeps) what the fan hides, which is nothing yet.
    await publishNotification(B.running.deps, fan.id, { id: "n1", actor_id: star.id });
    expect((await fanOnA.next()).payload).toEqual({ id: "n1", actor_id: star.id });
    await publishPostReady(B.running.deps, await B.readyPost(star));
    expect((await fanOnA.next("new_post")).payload.author.id).toBe(star.id);

    expect((await call(B, "block", fan, star)).status).toBe(201);
    await insertFollow(asEnv(B), fan.id, star.id); // a follow row again, so only the filter stands in the way
    await publishNotification(B.running.deps, fan.id, { id: "n2", actor_id: star.id });
    await publishPostReady(B.running.deps, await B.readyPost(star));
    await expectNothingBefore(B, fan, fanOnA);

    expect((await call(B, "unblock", fan, star)).status).toBe(200);
    await publishNotification(B.running.deps, fan.id, { id: "n3", actor_id: star.id });
    expect((await fanOnA.next()).payload).toEqual({ id: "n3", actor_id: star.id });
    await fanOnA.close();
  });
});

// Scale-out in one process: two servers (start() twice on one DATA_DIR, so one database and one JWT secret) on one
// real redis-server. Events and presence cross instances through Redis; the per-user cap counts every instance;
// a dead instance's users go offline once its liveness expires. (test/e2e/realtime-scale.test.ts does the same
// with two server processes of the built binary.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRedisBus, openRedis, type RealtimeEvent } from "../../src/realtime/bus.ts";
import { publishNotification, publishPostReady } from "../../src/realtime/events.ts";
import { CLOSE } from "../../src/realtime/hub.ts";
import { createRedisPresenceStore } from "../../src/realtime/presence-store.ts";
import { eventually, startRealtime, type Producer, type RealtimeServer } from "../support/realtime.ts";
import { REDIS_SERVER, startRedis, type RedisServer } from "../support/redis.ts";

const TTL = 1500;

describe.skipIf(!REDIS_SERVER)("two instances on one Redis", () => {
  let redis: RedisServer;
  let dataDir: string;
  let A: RealtimeServer, B: RealtimeServer;
  let star: Producer, fan: Producer, stranger: Producer;

  beforeAll(async () => {
    redis = await startRedis();
    dataDir = mkdtempSync(join(tmpdir(), "sc-rt-redis-"));
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: "t1", PRESENCE_GRACE_MS: "300", PRESENCE_INSTANCE_TTL_MS: String(TTL), WS_MAX_CONNECTIONS_PER_USER: "2" };
    A = await startRealtime(env, {}, dataDir);
    B = await startRealtime(env, {}, dataDir);
    [star, fan, stranger] = [await A.producer(), await A.producer(), await B.producer()];
    await A.follow(fan, star);
  });
  afterAll(async () => {
    await A?.stop({ keepData: true });
    await B?.stop({ keepData: true });
    await redis?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("readiness checks Redis", async () => {
    const res = await A.get("/readyz");
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).toContain("redis");
  });

  test("a client on A receives new_post caused through B, and only followers do", async () => {
    const [fanOnA, strangerOnA] = [await A.connect(fan), await A.connect(stranger)];
    const postId = await B.readyPost(star);
    await publishPostReady(B.running.deps, postId);
    const f = await fanOnA.next("new_post");
    expect(f.payload).toMatchObject({ id: postId, author: { id: star.id }, post: { id: postId, is_following: true } });
    await publishNotification(B.running.deps, stranger.id, { id: "marker" });
    expect((await strangerOnA.next()).payload).toEqual({ id: "marker" });
    await Promise.all([fanOnA.close(), strangerOnA.close()]);
    await eventually(() => A.running.hub.stats().connections === 0);
  });

  test("presence is shared: a user on B is online for A's clients and HTTP; offline after the last close anywhere, past the grace", async () => {
    const fanOnA = await A.connect(fan);
    const starOnB = await B.connect(star);
    expect(await fanOnA.next("presence")).toMatchObject({ user_id: star.id, is_online: true, status: "online" });
    expect(await (await A.get(`/api/v1/users/${star.id}/presence`, fan.token)).json()).toMatchObject({ is_online: true });
    expect((await (await A.get("/api/v1/presence/following", fan.token)).json()).online_count).toBe(1);

    // Moving from B to A (close on B, connect on A within the grace) is not a change anyone sees.
    const starOnA = await A.connect(star);
    starOnB.send({ type: "presence", payload: { status: "in_studio", daw: "Logic Pro" } });
    expect(await fanOnA.next("presence")).toMatchObject({ is_in_studio: true, daw: "Logic Pro" });
    await starOnB.close();
    // Past B's grace B's entry is gone and A's remains: still online, but no longer in the studio (the in_studio
    // status belonged to the connection on B).
    expect(await fanOnA.next("presence")).toMatchObject({ user_id: star.id, is_online: true, is_in_studio: false, status: "online" });
    expect(await (await B.get(`/api/v1/users/${star.id}/presence`, fan.token)).json()).toMatchObject({ is_online: true, status: "online" });

    await starOnA.close();
    expect(await fanOnA.next("presence", 3000)).toMatchObject({ user_id: star.id, is_online: false, status: "offline" });
    expect(await (await B.get(`/api/v1/users/${star.id}/presence`, fan.token)).json()).toMatchObject({ is_online: false });
    await fanOnA.close();
  });

  test("the per-user connection cap counts connections on every instance", async () => {
    const p = await A.producer();
    const one = await A.connect(p);
    const two = await B.connect(p);
    await eventually(async () => (await A.running.deps.presence.store.read([p.id])).get(p.id)?.connections === 2);
    const three = await A.connect(p);
    expect(await three.next()).toMatchObject({ type: "error", error: "too_many_connections" });
    expect((await three.waitClosed()).code).toBe(CLOSE.tooMany.code);
    await Promise.all([one.close(), two.close()]);
  });

  test("users of an instance that died go offline for everyone once its liveness expires", async () => {
    const fanOnA = await A.connect(fan);
    // A third "instance" that announces star online and then dies without a word.
    const pair = await openRedis(redis.url);
    const ghost = createRedisPresenceStore(pair.cmd, { prefix: "t1", instanceId: "ghost", instanceTtlMs: TTL });
    await ghost.heartbeat();
    const r = await ghost.update(star.id, { n: 1, status: "in_studio", daw: "Reason", at: Date.now() });
    expect(r.changed).toBe(true);
    pair.sub.close();
    pair.cmd.close();
    expect(await (await A.get(`/api/v1/users/${star.id}/presence`, fan.token)).json()).toMatchObject({ is_in_studio: true, daw: "Reason" });
    // A reaps the ghost after its TTL and announces the change.
    expect(await fanOnA.next("presence", 4 * TTL)).toMatchObject({ user_id: star.id, is_online: false });
    expect(await (await A.get(`/api/v1/users/${star.id}/presence`, fan.token)).json()).toMatchObject({ is_online: false });
    await fanOnA.close();
  });

  test("statuses set in the same millisecond on two instances: the one a client said wins, in either order", async () => {
    const pair = await openRedis(redis.url);
    const [x, y] = ["tie-x", "tie-y"].map((id) => createRedisPresenceStore(pair.cmd, { prefix: "tie", instanceId: id, instanceTtlMs: 60_000 }));
    await Promise.all([x!.heartbeat(), y!.heartbeat()]);
    const at = Date.now();
    for (const [first, second, user] of [
      [x!, y!, "u1"],
      [y!, x!, "u2"],
    ] as const) {
      await first.update(user, { n: 1, status: "in_studio", daw: "Bitwig Studio", at });
      const r = await second.update(user, { n: 1, status: "online", daw: "", at });
      expect(r.state).toMatchObject({ online: true, status: "in_studio", daw: "Bitwig Studio", connections: 2 });
    }
    pair.sub.close();
    pair.cmd.close();
  });

  test("the bus skips its own messages and ignores garbage on the channel", async () => {
    const pair = await openRedis(redis.url);
    const log = { debug() {}, info() {}, warn() {}, error() {} };
    const bus = await createRedisBus(pair, { log, prefix: "t2", instanceId: "me" });
    const got: [string, string][] = [];
    bus.subscribe((e: RealtimeEvent, origin: string) => void got.push([e.type, origin]));
    const other = await openRedis(redis.url);
    await other.cmd.publish("t2:events", "not json");
    await other.cmd.publish("t2:events", JSON.stringify({ origin: "other" }));
    await other.cmd.publish("t2:events", JSON.stringify({ origin: "me", event: { type: "post_ready", post_id: "x" } }));
    await other.cmd.publish("t2:events", JSON.stringify({ origin: "other", event: { type: "post_ready", post_id: "y" } }));
    await bus.publish({ type: "sessions_revoked", user_id: "u" });
    await eventually(() => got.length === 2, 3000, "two events");
    expect(got.sort()).toEqual([
      ["post_ready", "other"],
      ["sessions_revoked", "me"],
    ]);
    await bus.close();
    other.sub.close();
    other.cmd.close();
  });
});

// Realtime over a really listening server (start() on port 0) with real WebSocket clients: the upgrade checks the
// token like any request, frames are answered or refused without crashing anything, limits close connections with
// their documented codes, and every event reaches the people who should see it, in order, and nobody else.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lavfi } from "../support/audio.ts";
import { signAccessToken } from "../../src/auth/tokens.ts";
import { users } from "../../src/db/schema.ts";
import { notePostsSeen, publishFollow, publishNotification, publishPostReady, publishReaction, publishSessionsRevoked } from "../../src/realtime/events.ts";
import { CLOSE } from "../../src/realtime/hub.ts";
import { freePort } from "../support/net.ts";
import { eventually, startRealtime, type Producer, type RealtimeServer } from "../support/realtime.ts";
import { settableClock } from "../support/timers.ts";
import { upgradeRequest, WsClient } from "../support/ws.ts";

let sentinel = 0;
/** Sends a notification to `p` and returns its id: any frame for `p` published before it arrives before it. */
async function mark(s: RealtimeServer, p: Producer) {
  const id = `sentinel-${++sentinel}`;
  await publishNotification(s.running.deps, p.id, { id });
  return id;
}

describe("the WebSocket endpoint", () => {
  let s: RealtimeServer;
  let alice: Producer;
  beforeAll(async () => {
    s = await startRealtime({ WS_MAX_MESSAGE_BYTES: "1024", WS_MAX_CONNECTIONS_PER_USER: "2", WS_MAX_MESSAGES_PER_MIN: "600" });
    alice = await s.producer();
  });
  afterAll(() => s.stop());

  test("an upgrade without a token, with a bad, an expired or a revoked one is refused with a 401 in the contract shape", async () => {
    const none = await upgradeRequest(s.url, "");
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: "unauthorized", message: expect.any(String) });

    const bad = await upgradeRequest(s.url, "?token=not-a-token");
    expect(bad.status).toBe(401);
    expect((await bad.json()).error).toBe("invalid_token");

    const past = Date.now() - 3 * 86400_000;
    const claims = JSON.parse(Buffer.from(alice.token.split(".")[1]!, "base64url").toString());
    const { token: expired } = await signAccessToken(s.running.deps.config.JWT_SECRET, { userId: alice.id, sessionId: claims.sid }, past, 60);
    const exp = await upgradeRequest(s.url, `?token=${expired}`);
    expect(exp.status).toBe(401);
    expect((await exp.json()).error).toBe("token_expired");

    const bob = await s.producer();
    await fetch(`${s.url}/api/v1/auth/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${bob.token}`, "content-type": "application/json" },
      body: "{}",
    });
    const revoked = await upgradeRequest(s.url, `?token=${bob.token}`);
    expect(revoked.status).toBe(401);
    expect((await revoked.json()).error).toBe("invalid_token");
    await expect(WsClient.connect(s.url, bob.token)).rejects.toThrow();
  });

  test("a plain GET of the WebSocket path says to upgrade, in the error shape", async () => {
    const res = await fetch(`${s.url}/api/v1/ws`);
    expect(res.status).toBe(426);
    expect((await res.json()).error).toBe("upgrade_required");
  });

  test("heartbeat is answered with pong; protocol pings with a protocol pong; a bearer header works too", async () => {
    const c = await s.connect(alice);
    c.send({ type: "heartbeat", payload: {}, timestamp: 1234 });
    const pong = await c.next();
    expect(pong).toMatchObject({ type: "pong", payload: { client_timestamp: 1234 } });
    expect(typeof pong.timestamp).toBe("number");
    (c.ws as any).ping("x");
    await c.until(() => c.pongs === 1, 2000, "protocol pong");
    await c.close();

    const viaHeader = new WebSocket(`${s.url.replace("http", "ws")}/api/v1/ws`, { headers: { authorization: `Bearer ${alice.token}` } } as any);
    await new Promise((resolve, reject) => {
      viaHeader.onopen = resolve;
      viaHeader.onerror = reject;
    });
    viaHeader.close();
  });

  test("malformed, unknown, binary and oversized frames get an error frame and the connection stays usable", async () => {
    const c = await s.connect(alice);
    const cases: [string | Uint8Array, string][] = [
      ["not json {", "malformed_frame"],
      ["[1,2]", "malformed_frame"],
      ['{"payload":{}}', "malformed_frame"],
      ['"just a string"', "malformed_frame"],
      ['{"type":"launch_rockets"}', "unknown_type"],
      [new Uint8Array([1, 2, 3]), "unsupported_frame"],
      [JSON.stringify({ type: "heartbeat", payload: { pad: "x".repeat(5000) } }), "frame_too_large"],
      ['{"type":"presence","payload":{"status":"asleep"}}', "invalid_presence"],
      ['{"type":"watch","payload":{"post_ids":"p1"}}', "invalid_watch"],
    ];
    for (const [raw, code] of cases) {
      c.ws.send(raw);
      const f = await c.next();
      expect({ sent: String(raw).slice(0, 40), f }).toMatchObject({ f: { type: "error", error: code, message: expect.any(String), payload: { error: code } } });
    }
    c.heartbeat();
    expect((await c.next()).type).toBe("pong");
    expect(c.closed).toBeUndefined();
    await c.close();
  });

  test("a frame above the hard cap closes only that connection (1009); the server keeps serving", async () => {
    const c = await s.connect(alice);
    c.ws.send("x".repeat(2 * 1024 * 1024));
    expect((await c.waitClosed()).code).toBe(1009);
    const d = await s.connect(alice);
    d.heartbeat();
    expect((await d.next()).type).toBe("pong");
    await d.close();
  });

  test("the connection over the per-user cap gets an error frame and close 4008; a slot frees when one closes", async () => {
    const a = await s.connect(alice);
    const b = await s.connect(alice);
    const third = await s.connect(alice);
    const err = await third.next();
    expect(err).toMatchObject({ type: "error", error: "too_many_connections" });
    expect(await third.waitClosed()).toEqual({ code: CLOSE.tooMany.code, reason: "too_many_connections" });
    // The refused one never counted: the two others still work.
    a.heartbeat();
    expect((await a.next()).type).toBe("pong");
    await b.close();
    await eventually(() => s.running.hub.connectionsOf(alice.id) === 1, 2000, "close seen by the server");
    const again = await s.connect(alice);
    again.heartbeat();
    expect((await again.next()).type).toBe("pong");
    await Promise.all([a.close(), again.close()]);
  });
});

describe("limits on a connection", () => {
  let s: RealtimeServer;
  beforeAll(async () => {
    s = await startRealtime({ WS_IDLE_TIMEOUT_S: "1", WS_MAX_MESSAGES_PER_MIN: "5", WS_SESSION_CHECK_MS: "200" });
  });
  afterAll(() => s.stop());

  test("a connection that sends nothing for WS_IDLE_TIMEOUT_S is closed with idle_timeout (4000); heartbeats keep one open", async () => {
    const p = await s.producer();
    const idle = await s.connect(p);
    expect(await idle.next("error", 5000)).toMatchObject({ error: "idle_timeout" });
    expect(await idle.waitClosed()).toEqual({ code: CLOSE.idle.code, reason: "idle_timeout" });

    // Protocol pings count as traffic as well as heartbeats (4 frames in 2 s stay under 5 a minute).
    const alive = await s.connect(p);
    for (let i = 0; i < 4; i++) {
      await Bun.sleep(500);
      if (i % 2) alive.heartbeat();
      else (alive.ws as any).ping();
    }
    expect(alive.closed).toBeUndefined();
    await alive.close();
  });

  test("past WS_MAX_MESSAGES_PER_MIN frames are dropped with one rate_limited error; a client that keeps flooding is closed (4029)", async () => {
    const p = await s.producer();
    const c = await s.connect(p);
    for (let i = 0; i < 5; i++) c.heartbeat();
    for (let i = 0; i < 5; i++) expect((await c.next()).type).toBe("pong");
    c.heartbeat();
    expect(await c.next()).toMatchObject({ type: "error", error: "rate_limited" });
    for (let i = 0; i < 10; i++) c.heartbeat();
    expect(await c.next()).toMatchObject({ type: "error", error: "rate_limited" });
    expect(await c.waitClosed()).toEqual({ code: CLOSE.rateLimited.code, reason: "rate_limited" });
    // Only pongs and errors came back: the dropped heartbeats were not answered.
    expect(c.frames.filter((f) => f.type === "pong").length).toBe(5);
  });

  test("a connection whose session is revoked later is closed with session_revoked (4001) after an error frame", async () => {
    const p = await s.producer();
    const c = await s.connect(p);
    const res = await fetch(`${s.url}/api/v1/auth/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${p.token}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    // Heartbeats keep it from idling out meanwhile (4 a 1.6 s: under the 5 a minute of this server).
    const keepAlive = setInterval(() => c.closed || c.heartbeat(), 400);
    try {
      let err = await c.next("error", 3000);
      while (err.error === "rate_limited") err = await c.next("error", 3000);
      expect(err).toMatchObject({ error: "session_revoked", message: expect.any(String) });
      expect(await c.waitClosed()).toEqual({ code: CLOSE.sessionEnded.code, reason: "session_revoked" });
    } finally {
      clearInterval(keepAlive);
    }
  });
});

describe("event delivery", () => {
  let s: RealtimeServer;
  let author: Producer, fan: Producer, stranger: Producer, fan2: Producer;
  beforeAll(async () => {
    s = await startRealtime({}, { clock: settableClock() });
    [author, fan, stranger, fan2] = await Promise.all([s.producer(), s.producer(), s.producer(), s.producer()]);
    await s.follow(fan, author);
    await s.follow(fan2, author);
  });
  afterAll(() => s.stop());

  test("new_post reaches the author's followers on every connection, never a non-follower nor the author", async () => {
    const [fanA, fanB, fan2c, strangerC, authorC] = await Promise.all([
      s.connect(fan),
      s.connect(fan),
      s.connect(fan2),
      s.connect(stranger),
      s.connect(author),
    ]);
    const postId = await s.readyPost(author);
    await publishPostReady(s.running.deps, postId);
    for (const c of [fanA, fanB, fan2c]) {
      const f = await c.next("new_post");
      expect(f.payload.id).toBe(postId);
      expect(f.payload.author).toEqual({ id: author.id, username: author.username, display_name: expect.any(String), avatar_url: "" });
      expect(f.payload.post).toMatchObject({
        id: postId,
        user_id: author.id,
        status: "ready",
        is_following: true,
        is_own_post: false,
        is_online: true,
        is_in_studio: false,
      });
      expect(typeof f.timestamp).toBe("number");
    }
    const [m1, m2] = [await mark(s, stranger), await mark(s, author)];
    expect((await strangerC.next()).payload).toEqual({ id: m1 });
    expect((await authorC.next()).payload).toEqual({ id: m2 });
    for (const c of [fanA, fanB, fan2c, strangerC, authorC]) await c.close();
  });

  test("a post that is not ready announces nothing", async () => {
    const fanC = await s.connect(fan);
    await publishPostReady(s.running.deps, "no-such-post");
    const m = await mark(s, fan);
    expect((await fanC.next()).payload).toEqual({ id: m });
    await fanC.close();
  });

  test("each connection gets events in publish order, however long each takes to route", async () => {
    const fanC = await s.connect(fan);
    const posts = [];
    for (let i = 0; i < 5; i++) posts.push(await s.readyPost(author));
    const expected: string[] = [];
    for (let i = 0; i < 5; i++) {
      // post_ready needs database reads, a notification none: without ordering they would overtake each other.
      void publishPostReady(s.running.deps, posts[i]!);
      expected.push(`post:${posts[i]}`);
      void publishNotification(s.running.deps, fan.id, { id: `n${i}` });
      expected.push(`n:n${i}`);
      void publishFollow(s.running.deps, { followerId: stranger.id, followeeId: fan.id, followerCount: i, following: i % 2 === 0 });
      expected.push(`f:${i}`);
    }
    const got: string[] = [];
    while (got.length < expected.length) {
      const f = await fanC.next();
      if (f.type === "follower_count_update") continue; // the plugin's name, right after each unfollow
      got.push(f.type === "new_post" ? `post:${f.payload.id}` : f.type === "notification" ? `n:${f.payload.id}` : `f:${f.payload.follower_count}`);
    }
    expect(got).toEqual(expected);
    await fanC.close();
  });

  test("follow and unfollow reach the followee only, with the new follower_count", async () => {
    const [fanC, authorC] = await Promise.all([s.connect(fan), s.connect(author)]);
    await publishFollow(s.running.deps, { followerId: fan.id, followeeId: author.id, followerCount: 7 });
    expect(await authorC.next()).toMatchObject({ type: "follow", payload: { followee_id: author.id, follower_id: fan.id, follower_count: 7 } });
    await publishFollow(s.running.deps, { followerId: fan.id, followeeId: author.id, followerCount: 6, following: false });
    expect(await authorC.next()).toMatchObject({ type: "unfollow", payload: { follower_count: 6 } });
    expect(await authorC.next()).toMatchObject({ type: "follower_count_update", payload: { followee_id: author.id, follower_count: 6 } });
    const m = await mark(s, fan);
    expect((await fanC.next()).payload).toEqual({ id: m });
    await Promise.all([fanC.close(), authorC.close()]);
  });

  test("a notification reaches its recipient only", async () => {
    const [fanC, fan2C] = await Promise.all([s.connect(fan), s.connect(fan2)]);
    await publishNotification(s.running.deps, fan.id, { id: "n-1", kind: "follow", actor: { id: stranger.id } });
    expect(await fanC.next()).toMatchObject({ type: "notification", payload: { id: "n-1", kind: "follow" } });
    const m = await mark(s, fan2);
    expect((await fan2C.next()).payload).toEqual({ id: m });
    await Promise.all([fanC.close(), fan2C.close()]);
  });

  test("post_liked / post_unliked reach the owner and users who were shown the post (watch frame or HTTP), until the watch expires", async () => {
    const postId = await s.readyPost(author);
    const [ownerC, watcherC, seenC, strangerC] = await Promise.all([s.connect(author), s.connect(fan), s.connect(fan2), s.connect(stranger)]);
    watcherC.send({ type: "watch", payload: { post_ids: [`loop:${postId}`, 42, "x".repeat(100)] } });
    expect(await watcherC.next()).toEqual({ type: "watching", payload: { post_ids: [postId] }, timestamp: expect.any(Number) });
    await notePostsSeen(s.running.deps, fan2.id, [postId]);
    await notePostsSeen(s.running.deps, null, [postId]); // anonymous readers have no socket: nothing to do

    const like = { postId, ownerId: author.id, actorId: stranger.id, likeCount: 1, reactionCounts: { "🔥": 1 } };
    await publishReaction(s.running.deps, { ...like, liked: true, emoji: "🔥" });
    for (const c of [ownerC, watcherC, seenC]) {
      expect(await c.next()).toEqual({
        type: "post_liked",
        payload: { post_id: postId, like_count: 1, reaction_counts: { "🔥": 1 } },
        timestamp: expect.any(Number),
      });
    }
    await publishReaction(s.running.deps, { ...like, liked: false, likeCount: 0, reactionCounts: {} });
    for (const c of [ownerC, watcherC, seenC]) expect(await c.next()).toMatchObject({ type: "post_unliked", payload: { post_id: postId, like_count: 0 } });
    const m = await mark(s, stranger);
    expect((await strangerC.next()).payload).toEqual({ id: m });

    // unwatch stops it at once; time stops it for the other one (WS_WATCH_TTL_MS, default 15 min).
    watcherC.send({ type: "unwatch", payload: { post_ids: [postId] } });
    expect((await watcherC.next()).payload).toEqual({ post_ids: [] });
    (s.running.deps.clock as ReturnType<typeof settableClock>).advance(s.running.deps.config.WS_WATCH_TTL_MS + 1);
    seenC.heartbeat(); // traffic, so the idle check does not close it after the jump in time
    await seenC.next("pong");
    await publishReaction(s.running.deps, { ...like, liked: true, likeCount: 2 });
    expect(await ownerC.next()).toMatchObject({ type: "post_liked", payload: { like_count: 2 } });
    const [m1, m2] = [await mark(s, fan), await mark(s, fan2)];
    expect((await watcherC.next()).payload).toEqual({ id: m1 });
    expect((await seenC.next()).payload).toEqual({ id: m2 });
    for (const c of [ownerC, watcherC, seenC, strangerC]) await c.close();
  });

  test("sessions_revoked re-checks that user's sockets at once", async () => {
    const p = await s.producer();
    const c = await s.connect(p);
    await fetch(`${s.url}/api/v1/auth/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${p.token}`, "content-type": "application/json" },
      body: "{}",
    });
    await publishSessionsRevoked(s.running.deps, p.id);
    expect(await c.next("error", 2000)).toMatchObject({ error: "session_revoked" });
    expect((await c.waitClosed()).code).toBe(CLOSE.sessionEnded.code);
  });
});

describe("restarts", () => {
  test("clients are told the server is going away (1001) and reconnect to the restarted server with the same token", async () => {
    const port = String(await freePort());
    const s = await startRealtime({ PORT: port });
    const [a, b] = [await s.producer(), await s.producer()];
    await s.follow(b, a);
    const c = await s.connect(b);
    await s.stop({ keepData: true });
    expect(await c.waitClosed()).toEqual({ code: 1001, reason: "server_shutdown" });

    const again = await startRealtime({ PORT: port }, {}, s.dataDir);
    try {
      const c2 = await again.connect(b);
      const postId = await again.readyPost(a);
      await publishPostReady(again.running.deps, postId);
      expect((await c2.next("new_post")).payload.id).toBe(postId);
      await c2.close();
    } finally {
      await again.stop();
    }
  });
});

test("last_active_at is written when a user connects", async () => {
  const s = await startRealtime();
  try {
    const p = await s.producer();
    const c = await s.connect(p);
    await eventually(async () => {
      const [row] = await s.running.deps.database.db.select({ at: users.lastActiveAt }).from(users).where(eq(users.id, p.id));
      return typeof row?.at === "number";
    });
    await c.close();
  } finally {
    await s.stop();
  }
});

describe("through the real routes", () => {
  let s: RealtimeServer;
  beforeAll(async () => {
    s = await startRealtime();
  });
  afterAll(() => s.stop());
  const post = (path: string, token: string, body: unknown) =>
    fetch(`${s.url}/api/v1${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  test("follow, an uploaded loop becoming ready, like, unlike and unfollow reach the right sockets", async () => {
    const [star, fan] = [await s.producer(), await s.producer()];
    const [starC, fanC] = [await s.connect(star), await s.connect(fan)];
    expect((await post("/social/follow", fan.token, { target_user_id: star.id })).status).toBe(201);
    expect(await starC.next("follow")).toMatchObject({ payload: { followee_id: star.id, follower_id: fan.id, follower_count: 1 } });
    expect(await starC.next("notification")).toMatchObject({ payload: { kind: "follow", actor_id: fan.id } });
    expect((await post("/social/follow", fan.token, { target_user_id: star.id })).status).toBe(200); // a retry: no frame
    await mark(s, star).then(async (m) => expect((await starC.next()).payload).toEqual({ id: m }));

    const wav = await lavfi(join(mkdtempSync(join(tmpdir(), "sc-rt-wav-")), "loop.wav"), "sine=frequency=330:duration=3", [
      "-ar",
      "44100",
      "-ac",
      "2",
      "-c:a",
      "pcm_s16le",
    ]);
    const form = new FormData();
    form.set("audio_file", Bun.file(wav), "loop.wav");
    form.set("filename", "Night drive");
    const up = await fetch(`${s.url}/api/v1/audio/upload`, { method: "POST", headers: { authorization: `Bearer ${star.token}` }, body: form });
    const uploaded = (await up.json()) as { post_id: string };
    expect(up.status).toBeLessThan(300);
    const np = await fanC.next("new_post", 30_000);
    expect(np.payload).toMatchObject({
      id: uploaded.post_id,
      author: { id: star.id },
      post: { id: uploaded.post_id, filename: "Night drive", status: "ready" },
    });

    expect((await post("/feed/like", fan.token, { activity_id: `loop:${uploaded.post_id}`, emoji: "🔥" })).status).toBe(200);
    expect(await starC.next("post_liked")).toMatchObject({ payload: { post_id: uploaded.post_id, like_count: 1, reaction_counts: { "🔥": 1 } } });
    expect((await post("/feed/unlike", fan.token, { activity_id: uploaded.post_id })).status).toBe(200);
    expect(await starC.next("post_unliked")).toMatchObject({ payload: { post_id: uploaded.post_id, like_count: 0, reaction_counts: {} } });

    expect((await post("/social/unfollow", fan.token, { target_user_id: star.id })).status).toBe(200);
    expect(await starC.next("unfollow")).toMatchObject({ payload: { follower_id: fan.id, follower_count: 0 } });
    await Promise.all([starC.close(), fanC.close()]);
  }, 60_000);
});

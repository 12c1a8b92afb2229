// The realtime hooks in the features, end to end over HTTP and a real WebSocket client: following someone pushes
// `follow` and the follow `notification` to them; reacting pushes the reaction notification to the post's owner;
// logging out closes that session's sockets at once (not at the next periodic session check).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { CLOSE } from "../../src/realtime/hub.ts";
import { insertReadyPost } from "../support/ready-posts.ts";
import { eventually, startRealtime, type RealtimeServer } from "../support/realtime.ts";
import { WsClient } from "../support/ws.ts";

let s: RealtimeServer;
beforeAll(async () => {
  // A long periodic check: a close within the test can only come from the revocation notice.
  s = await startRealtime({ WS_SESSION_CHECK_MS: "600000" });
});
afterAll(() => s.stop());

const call = (path: string, token: string, body: unknown) =>
  fetch(`${s.url}/api/v1${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

test("a follow reaches the followee as `follow` and as a `notification`", async () => {
  const [alice, bob] = [await s.producer(), await s.producer()];
  const ws = await WsClient.connect(s.url, alice.token);
  expect((await call("/social/follow", bob.token, { target_user_id: alice.id })).status).toBeLessThan(300);
  expect(await ws.next("follow")).toMatchObject({ payload: { followee_id: alice.id, follower_id: bob.id, follower_count: 1 } });
  const n = await ws.next("notification");
  expect(n.payload).toMatchObject({ kind: "follow", actor_id: bob.id, is_read: false });
  ws.close();
});

test("a reaction pushes the notification to the post's owner", async () => {
  const [owner, fan] = [await s.producer(), await s.producer()];
  const postId = await insertReadyPost({ deps: s.running.deps, clock: s.running.deps.clock } as never, owner.id);
  const ws = await WsClient.connect(s.url, owner.token);
  expect((await call("/feed/like", fan.token, { activity_id: postId, emoji: "🔥" })).status).toBe(200);
  const n = await ws.next("notification");
  expect(n.payload).toMatchObject({ kind: "reaction", actor_id: fan.id, post_id: postId, emoji: "🔥" });
  ws.close();
});

test("logging out closes that session's sockets at once with session_revoked", async () => {
  const carol = await s.producer();
  const ws = await WsClient.connect(s.url, carol.token);
  expect((await call("/auth/logout", carol.token, {})).status).toBe(200);
  const closed = await ws.waitClosed(5000);
  expect(closed.code).toBe(CLOSE.sessionEnded.code);
});

test("profiles and follower lists show who is online and in the studio, from the same presence source", async () => {
  const [dj, fan] = [await s.producer(), await s.producer()];
  await s.follow(fan, dj);
  const get = async (path: string) => (await fetch(`${s.url}/api/v1${path}`, { headers: { authorization: `Bearer ${fan.token}` } })).json();
  expect(await get(`/users/${dj.id}/profile`)).toMatchObject({ is_online: false, is_in_studio: false });
  const ws = await WsClient.connect(s.url, dj.token);
  ws.send({ type: "presence", payload: { status: "in_studio", daw: "Bitwig Studio" }, timestamp: Date.now() });
  let profile: any;
  await eventually(async () => (profile = await get(`/users/${dj.id}/profile`)).is_in_studio, 5000, "the profile in the studio").catch(() => undefined);
  expect(profile).toMatchObject({ is_online: true, is_in_studio: true, is_following: true });
  const following = await get(`/users/${fan.id}/following`);
  expect(following.users[0]).toMatchObject({ id: dj.id, is_online: true, is_in_studio: true });
  ws.close();
});

test("a producer who was shown a post in a feed gets its live like counts; one who was not, does not", async () => {
  const [owner, reader, other, fan] = [await s.producer(), await s.producer(), await s.producer(), await s.producer()];
  const postId = await insertReadyPost({ deps: s.running.deps, clock: s.running.deps.clock } as never, owner.id);
  const [readerWs, otherWs] = [await WsClient.connect(s.url, reader.token), await WsClient.connect(s.url, other.token)];
  const page = await (await fetch(`${s.url}/api/v1/feed/global`, { headers: { authorization: `Bearer ${reader.token}` } })).json();
  expect(page.posts.map((p: { id: string }) => p.id)).toContain(postId);
  // The page's "seen" notice reached the hub before the page did: the in-process bus hands it over in a microtask of
  // the request (src/realtime/bus.ts), and the hub records the watch as it receives it (src/realtime/hub.ts).
  expect((await call("/feed/like", fan.token, { activity_id: postId, emoji: "🚀" })).status).toBe(200);
  expect(await readerWs.next("post_liked")).toMatchObject({ payload: { post_id: postId, like_count: 1 } });
  // The like went out to every recipient at once (reader's frame is here); a ping's pong comes after anything sent
  // to `other` before it.
  const pongs = otherWs.pongs;
  (otherWs.ws as any).ping();
  await otherWs.until(() => otherWs.pongs > pongs, 5000, "pong");
  expect(otherWs.drain().filter((f) => f.type === "post_liked")).toEqual([]);
  readerWs.close();
  otherWs.close();
});

test("hiding one's activity status in the profile tells followers offline at once", async () => {
  const [dj, fan] = [await s.producer(), await s.producer()];
  await s.follow(fan, dj);
  const fanWs = await WsClient.connect(s.url, fan.token);
  const djWs = await WsClient.connect(s.url, dj.token);
  expect(await fanWs.next("presence")).toMatchObject({ user_id: dj.id, is_online: true });
  const res = await fetch(`${s.url}/api/v1/users/me`, {
    method: "PUT",
    headers: { authorization: `Bearer ${dj.token}`, "content-type": "application/json" },
    body: JSON.stringify({ show_activity_status: false }),
  });
  expect(res.status).toBe(200);
  expect(await fanWs.next("presence")).toMatchObject({ user_id: dj.id, is_online: false, status: "offline" });
  fanWs.close();
  djWs.close();
});

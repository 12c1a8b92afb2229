// The plugin is "live in the studio" (issue #11 item 6) and hears unfollows (item 7): the plugin never sends a
// presence frame (plugin/src/network/WebSocketClient.cpp sends heartbeats only), and its websocketpp connection
// carries `User-Agent: WebSocket++/<version>`, no Origin and only ?token=. Such a connection puts its user
// in_studio; other clients say what they are (?client=web); a presence frame still wins. An unfollow also sends
// `follower_count_update` {followee_id, follower_count}, what plugin/src/core/PluginEditor.cpp reads.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { posts, users } from "../../src/db/schema.ts";
import { looksLikePlugin } from "../../src/realtime/hub.ts";
import { publishFollow, publishNotification } from "../../src/realtime/events.ts";
import { insertPost } from "../support/ready-posts.ts";
import type { TestEnv } from "../support/deps.ts";
import { eventually, startRealtime, type Producer, type RealtimeServer } from "../support/realtime.ts";
import { manualTimers, settableClock, type ManualTimers } from "../support/timers.ts";
import { WsClient } from "../support/ws.ts";

const GRACE = 10_000;
/** What websocketpp sends unless told otherwise (websocketpp/version.hpp `user_agent`). */
const PLUGIN_UA = { "User-Agent": "WebSocket++/0.8.2" };
let sentinel = 0;

describe("looksLikePlugin", () => {
  const req = (query: string, headers: Record<string, string> = {}) => new Request(`http://localhost/api/v1/ws?token=t${query}`, { headers });
  test("websocketpp's user agent without an Origin or a client parameter is the plugin", () => {
    expect(looksLikePlugin(req("", PLUGIN_UA))).toBe(true);
    expect(looksLikePlugin(req("", { "user-agent": "websocket++/0.4.x-dev" }))).toBe(true);
  });
  test("a client parameter decides: plugin says yes (any case), anything else no", () => {
    expect(looksLikePlugin(req("&client=plugin"))).toBe(true);
    expect(looksLikePlugin(req("&client=%20PLUGIN%20"))).toBe(true);
    expect(looksLikePlugin(req("&client=web", PLUGIN_UA))).toBe(false);
    expect(looksLikePlugin(req("&client=", PLUGIN_UA))).toBe(false);
    expect(looksLikePlugin(req("&client=plugin2", PLUGIN_UA))).toBe(false);
  });
  test("browsers (an Origin), other user agents and no user agent are not the plugin", () => {
    expect(looksLikePlugin(req("", { ...PLUGIN_UA, origin: "https://evil.example" }))).toBe(false);
    expect(looksLikePlugin(req("", { "user-agent": "Mozilla/5.0 WebSocket++/0.8.2" }))).toBe(false);
    expect(looksLikePlugin(req("", { "user-agent": "Bun/1.2" }))).toBe(false);
    expect(looksLikePlugin(req(""))).toBe(false);
  });
});

describe("studio presence from the plugin's connection", () => {
  let s: RealtimeServer;
  let timers: ManualTimers;
  let clock: ReturnType<typeof settableClock>;
  let fan: Producer;
  let fanC: WsClient;
  const env = () => ({ deps: s.running.deps, clock: s.running.deps.clock }) as unknown as TestEnv;

  const plugin = (p: Producer, query = "") => WsClient.connect(s.url, p.token, `/api/v1/ws${query}`, PLUGIN_UA);
  const presenceOf = async (p: Producer) => (await s.get(`/api/v1/users/${p.id}/presence`, fan.token)).json();
  const closed = (p: Producer) => eventually(() => s.running.hub.connectionsOf(p.id) === 0, 3000, "the server to see the close");
  /** A producer the fan follows (so the fan hears their presence). */
  async function star(daw = "") {
    const p = await s.producer();
    if (daw) await s.running.deps.database.db.update(users).set({ daw }).where(eq(users.id, p.id));
    await s.follow(fan, p);
    return p;
  }
  /** Closes `c` (the user's last connection), ends the grace period and, when `announced`, sees the fan told offline. */
  async function leave(p: Producer, c: WsClient, announced = true) {
    await c.close();
    await closed(p);
    timers.advance(GRACE);
    if (announced) expect(await fanC.next("presence")).toMatchObject({ user_id: p.id, is_online: false, status: "offline" });
  }
  /** Asserts that nothing more reached `c` before a marker sent now (frames are delivered in order). */
  async function nothingMoreFor(c: WsClient, p: Producer) {
    const id = `m${++sentinel}`;
    await publishNotification(s.running.deps, p.id, { id });
    expect(await c.next()).toMatchObject({ type: "notification", payload: { id } });
  }

  beforeAll(async () => {
    clock = settableClock();
    timers = manualTimers(clock);
    s = await startRealtime({ PRESENCE_GRACE_MS: String(GRACE) }, { clock, timers });
    fan = await s.producer();
    fanC = await s.connect(fan);
  });
  afterAll(async () => {
    await fanC.close();
    await s.stop();
  });

  test("the plugin's connection puts its user in the studio with the profile's DAW; closing it ends after the grace period", async () => {
    const p = await star("Bitwig Studio");
    const c = await plugin(p);
    expect(await fanC.next("presence")).toMatchObject({ user_id: p.id, is_online: true, is_in_studio: true, status: "in_studio", daw: "Bitwig Studio" });
    expect(await presenceOf(p)).toMatchObject({ is_online: true, is_in_studio: true, status: "in_studio", daw: "Bitwig Studio" });
    const list = await (await s.get("/api/v1/presence/following", fan.token)).json();
    expect(list).toMatchObject({ in_studio_count: 1, users: [{ user_id: p.id, is_in_studio: true, daw: "Bitwig Studio" }] });
    // The plugin's heartbeat (its only frame) changes nothing.
    c.heartbeat();
    expect((await c.next("pong")).type).toBe("pong");
    await c.close();
    await closed(p);
    // Still in the studio during the grace period (a plugin reconnecting after a blip does not flap) ...
    const again = await plugin(p);
    await nothingMoreFor(fanC, fan);
    await again.close();
    await closed(p);
    timers.advance(GRACE);
    // ... and offline once it is over.
    expect(await fanC.next("presence")).toMatchObject({ user_id: p.id, is_online: false, is_in_studio: false, status: "offline", daw: "" });
  });

  test("without a profile DAW, the DAW the plugin detected for the newest upload shows; the plugin's 'Unknown' does not", async () => {
    const p = await star();
    const older = await insertPost(env(), p.id);
    await s.running.deps.database.db.update(posts).set({ daw: "FL Studio" }).where(eq(posts.id, older));
    clock.advance(1000);
    const newer = await insertPost(env(), p.id);
    await s.running.deps.database.db.update(posts).set({ daw: "Unknown" }).where(eq(posts.id, newer));
    const c = await plugin(p);
    expect(await fanC.next("presence")).toMatchObject({ user_id: p.id, status: "in_studio", daw: "FL Studio" });
    await leave(p, c);

    // Only "Unknown" uploads and no profile DAW: in the studio, DAW "".
    const q = await star();
    const only = await insertPost(env(), q.id);
    await s.running.deps.database.db.update(posts).set({ daw: "unknown" }).where(eq(posts.id, only));
    const d = await plugin(q);
    expect(await fanC.next("presence")).toMatchObject({ user_id: q.id, status: "in_studio", is_in_studio: true, daw: "" });
    await leave(q, d);
  });

  test("clients that say what they are, browsers and plain clients are online, not in the studio; client=plugin is", async () => {
    const p = await star("Ableton Live");
    for (const open of [
      () => plugin(p, "?client=web"),
      () => WsClient.connect(s.url, p.token, "/api/v1/ws", { ...PLUGIN_UA, Origin: "https://loops.example" }),
      () => s.connect(p),
    ]) {
      const c = await open();
      expect(await fanC.next("presence")).toMatchObject({ user_id: p.id, is_online: true, is_in_studio: false, status: "online", daw: "" });
      await leave(p, c);
    }
    const c = await WsClient.connect(s.url, p.token, "/api/v1/ws?client=plugin");
    expect(await fanC.next("presence")).toMatchObject({ user_id: p.id, status: "in_studio", daw: "Ableton Live" });
    await leave(p, c);
  });

  test("a presence frame still wins; the plugin closing while another client stays leaves the user online", async () => {
    const p = await star("Logic Pro");
    const web = await s.connect(p);
    expect(await fanC.next("presence")).toMatchObject({ user_id: p.id, status: "online" });
    const c = await plugin(p);
    expect(await fanC.next("presence")).toMatchObject({ user_id: p.id, status: "in_studio", daw: "Logic Pro" });
    // The studio connection closes, the web one stays: back to online at once.
    await c.close();
    expect(await fanC.next("presence")).toMatchObject({ user_id: p.id, is_online: true, status: "online", daw: "" });
    // The plugin again, then the client says "away": the frame wins and the plugin's close leaves it alone.
    const c2 = await plugin(p);
    expect(await fanC.next("presence")).toMatchObject({ user_id: p.id, status: "in_studio" });
    c2.send({ type: "presence", payload: { status: "away" }, timestamp: Date.now() });
    expect(await fanC.next("presence")).toMatchObject({ user_id: p.id, status: "away", is_in_studio: false });
    await c2.close();
    await eventually(() => s.running.hub.connectionsOf(p.id) === 1, 3000, "the plugin's close");
    await nothingMoreFor(fanC, fan);
    expect(await presenceOf(p)).toMatchObject({ status: "away" });
    // A bad presence frame from the plugin's connection changes nothing.
    const c3 = await plugin(p);
    expect(await fanC.next("presence")).toMatchObject({ user_id: p.id, status: "in_studio" });
    c3.send({ type: "presence", payload: { status: "offline" } });
    expect(await c3.next("error")).toMatchObject({ error: "invalid_presence" });
    expect(await presenceOf(p)).toMatchObject({ status: "in_studio", daw: "Logic Pro" });
    await c3.close();
    expect(await fanC.next("presence")).toMatchObject({ user_id: p.id, status: "online" });
    await leave(p, web);
  });

  test("a hidden user's plugin puts nobody in the studio for anyone", async () => {
    const p = await star("Reaper");
    await s.hide(p);
    const c = await plugin(p);
    await eventually(() => s.running.hub.connectionsOf(p.id) === 1, 3000, "the open");
    await nothingMoreFor(fanC, fan);
    expect(await presenceOf(p)).toMatchObject({ is_online: false, is_in_studio: false, status: "offline", daw: "" });
    await leave(p, c, false);
  });

  test("an unfollow sends unfollow and the plugin's follower_count_update; a follow sends follow only", async () => {
    const p = await s.producer();
    const c = await plugin(p);
    await publishFollow(s.running.deps, { followerId: fan.id, followeeId: p.id, followerCount: 3 });
    expect(await c.next()).toMatchObject({ type: "follow", payload: { followee_id: p.id, follower_id: fan.id, follower_count: 3 } });
    await publishFollow(s.running.deps, { followerId: fan.id, followeeId: p.id, followerCount: 2, following: false });
    expect(await c.next()).toMatchObject({ type: "unfollow", payload: { followee_id: p.id, follower_count: 2 } });
    const update = await c.next();
    // The types the plugin reads: followee_id a string, follower_count an integer (PluginEditor.cpp).
    expect(update).toEqual({
      type: "follower_count_update",
      payload: { followee_id: p.id, follower_id: fan.id, follower_count: 2 },
      timestamp: expect.any(Number),
    });
    await nothingMoreFor(c, p);
    // Through the plugin's own route: POST /social/unfollow after a real follow.
    const post = (path: string) =>
      fetch(`${s.url}/api/v1${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${fan.token}` },
        body: JSON.stringify({ target_user_id: p.id }),
      });
    await post("/social/follow");
    expect(await c.next("follow")).toMatchObject({ payload: { follower_count: 1 } });
    await post("/social/unfollow");
    expect(await c.next("follower_count_update")).toMatchObject({ payload: { followee_id: p.id, follower_count: 0 } });
    // A repeated unfollow changes nothing and sends nothing.
    await post("/social/unfollow");
    await nothingMoreFor(c, p);
    await leave(p, c, false);
  });
});

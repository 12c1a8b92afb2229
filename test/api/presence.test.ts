// Presence with real WebSocket clients and a manual clock/timer: online while a connection is open, in the studio or
// away on request, offline only after the grace period (a reconnect within it changes nothing anyone sees), only
// ever told to followers, never shown for a user who hides it, and the same answers over HTTP.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { users } from "../../src/db/schema.ts";
import { publishNotification, publishPresenceVisibility } from "../../src/realtime/events.ts";
import { eventually, startRealtime, type Producer, type RealtimeServer } from "../support/realtime.ts";
import { manualTimers, settableClock, type ManualTimers } from "../support/timers.ts";
import type { WsClient } from "../support/ws.ts";

const GRACE = 10_000;
let sentinel = 0;

describe("presence", () => {
  let s: RealtimeServer;
  let timers: ManualTimers;
  let clock: ReturnType<typeof settableClock>;
  let star: Producer, fan: Producer, stranger: Producer, shy: Producer;
  let fanC: WsClient, strangerC: WsClient;

  /** Asserts that nothing reached `c` before a marker sent now (frames are delivered in order). */
  async function nothingMoreFor(c: WsClient, p: Producer) {
    const id = `m${++sentinel}`;
    await publishNotification(s.running.deps, p.id, { id });
    expect(await c.next()).toMatchObject({ type: "notification", payload: { id } });
  }
  /** GET /users/{id}/presence as `viewer` (a follower of star and shy by default). */
  const presenceOf = async (p: Producer, viewer: Producer | null = fan) => (await s.get(`/api/v1/users/${p.id}/presence`, viewer?.token)).json();
  const closed = (p: Producer) => eventually(() => s.running.hub.connectionsOf(p.id) === 0, 3000, "the server to see the close");

  beforeAll(async () => {
    clock = settableClock();
    timers = manualTimers(clock);
    s = await startRealtime({ PRESENCE_GRACE_MS: String(GRACE) }, { clock, timers });
    [star, fan, stranger, shy] = await Promise.all([s.producer(), s.producer(), s.producer(), s.producer()]);
    await s.follow(fan, star);
    await s.follow(fan, shy);
    await s.hide(shy);
    fanC = await s.connect(fan);
    strangerC = await s.connect(stranger);
  });
  afterAll(async () => {
    await fanC.close();
    await strangerC.close();
    await s.stop();
  });

  test("a user is offline with no connection; GET /users/{id}/presence answers so; unknown users are 404", async () => {
    expect(await presenceOf(star)).toEqual({ user_id: star.id, is_online: false, is_in_studio: false, status: "offline", daw: "", last_active: null });
    const res = await s.get("/api/v1/users/nobody/presence");
    expect(res.status).toBe(404);
    expect((await res.json()).error).toBe("user_not_found");
  });

  test("connecting makes a user online; followers get a presence frame with top-level fields; others get nothing", async () => {
    const c = await s.connect(star);
    const f = await fanC.next("presence");
    const lastActive = f.last_active;
    expect(new Date(lastActive).toISOString()).toBe(lastActive);
    expect(f).toMatchObject({ type: "presence", user_id: star.id, is_online: true, is_in_studio: false, status: "online" });
    expect(f.payload).toEqual({ user_id: star.id, is_online: true, is_in_studio: false, status: "online", daw: "", last_active: lastActive });
    await nothingMoreFor(strangerC, stranger);
    expect(await presenceOf(star)).toMatchObject({ is_online: true, status: "online" });

    // A second connection of the same user changes nothing anyone sees.
    const c2 = await s.connect(star);
    await nothingMoreFor(fanC, fan);
    await c2.close();
    await eventually(() => s.running.hub.connectionsOf(star.id) === 1);
    await nothingMoreFor(fanC, fan);
    await c.close();
    await closed(star);
  });

  test("in_studio with the DAW, then away, reach followers; a repeat of the same state is not announced again", async () => {
    // Still online from the previous test (in grace): nothing was announced at the close.
    await nothingMoreFor(fanC, fan);
    const c = await s.connect(star);
    c.send({ type: "presence", payload: { status: "in_studio", daw: "Ableton Live" }, timestamp: Date.now() });
    expect(await fanC.next("presence")).toMatchObject({ user_id: star.id, is_online: true, is_in_studio: true, status: "in_studio", daw: "Ableton Live" });
    expect(await presenceOf(star)).toMatchObject({ is_online: true, is_in_studio: true, status: "in_studio", daw: "Ableton Live" });
    c.send({ type: "presence", payload: { status: "in_studio", daw: "Ableton Live" } });
    c.send({ type: "presence", payload: { status: "away" } });
    expect(await fanC.next("presence")).toMatchObject({ user_id: star.id, is_online: true, is_in_studio: false, status: "away", daw: "" });
    c.send({ type: "presence", payload: { status: "online" } });
    expect(await fanC.next("presence")).toMatchObject({ status: "online" });

    // GET /presence/following: the people the viewer follows who are online (the hidden one never).
    const list = await (await s.get("/api/v1/presence/following", fan.token)).json();
    expect(list).toEqual({
      users: [
        {
          user_id: star.id,
          username: star.username,
          display_name: expect.any(String),
          avatar_url: "",
          is_online: true,
          is_in_studio: false,
          status: "online",
          daw: "",
          last_active: expect.any(String),
        },
      ],
      online_count: 1,
      in_studio_count: 0,
    });
    expect((await s.get("/api/v1/presence/following")).status).toBe(401);
    await c.close();
    await closed(star);
  });

  test("offline only after the grace period; a reconnect within it is never seen by anyone", async () => {
    // Closed above; still online during the grace period.
    timers.advance(GRACE - 1000);
    expect(await presenceOf(star)).toMatchObject({ is_online: true });
    await nothingMoreFor(fanC, fan);

    // Reconnect inside the grace period, then leave again: the new grace period starts from this close.
    const c = await s.connect(star);
    await nothingMoreFor(fanC, fan);
    await c.close();
    await closed(star);
    timers.advance(GRACE - 1);
    await nothingMoreFor(fanC, fan);
    expect(await presenceOf(star)).toMatchObject({ is_online: true });

    timers.advance(1);
    const off = await fanC.next("presence");
    const lastActive = off.last_active;
    expect(typeof lastActive).toBe("string");
    expect(off).toMatchObject({ user_id: star.id, is_online: false, is_in_studio: false, status: "offline" });
    expect(await presenceOf(star)).toMatchObject({ is_online: false, status: "offline", last_active: lastActive });
    // last_active is persisted on the user row.
    await eventually(async () => {
      const [row] = await s.running.deps.database.db.select({ at: users.lastActiveAt }).from(users).where(eq(users.id, star.id));
      return row?.at === Date.parse(lastActive);
    });
    const list = await (await s.get("/api/v1/presence/following", fan.token)).json();
    expect(list).toEqual({ users: [], online_count: 0, in_studio_count: 0 });
  });

  test("a user who hides their activity status is never announced and always answers offline", async () => {
    const c = await s.connect(shy);
    c.send({ type: "presence", payload: { status: "in_studio", daw: "FL Studio" } });
    c.heartbeat();
    await c.next("pong");
    await nothingMoreFor(fanC, fan);
    expect(await presenceOf(shy)).toEqual({ user_id: shy.id, is_online: false, is_in_studio: false, status: "offline", daw: "", last_active: null });
    const flags = await s.running.deps.presence.lookup([shy.id, star.id, "nobody"]);
    expect(Object.fromEntries(flags)).toEqual({
      [shy.id]: { is_online: false, is_in_studio: false },
      [star.id]: { is_online: false, is_in_studio: false },
      nobody: { is_online: false, is_in_studio: false },
    });
    expect((await (await s.get("/api/v1/presence/following", fan.token)).json()).users).toEqual([]);
    await c.close();
    await closed(shy);
    timers.advance(GRACE);
    await nothingMoreFor(fanC, fan);
  });

  test("deps.presence.lookup gives author presence for feeds", async () => {
    const c = await s.connect(star);
    await fanC.next("presence");
    c.send({ type: "presence", payload: { status: "in_studio", daw: "Bitwig" } });
    await fanC.next("presence");
    const flags = await s.running.deps.presence.lookup([star.id]);
    expect(flags.get(star.id)).toEqual({ is_online: true, is_in_studio: true });
    await c.close();
    await closed(star);
    timers.advance(GRACE);
    expect(await fanC.next("presence")).toMatchObject({ status: "offline" });
  });
});

describe("who may see a user's presence over HTTP", () => {
  test("the user and their followers see it live; a stranger and an anonymous caller get the same fields saying offline", async () => {
    const s = await startRealtime();
    try {
      const [star, fan, stranger] = [await s.producer(), await s.producer(), await s.producer()];
      await s.follow(fan, star);
      const fanC = await s.connect(fan);
      const c = await s.connect(star);
      c.send({ type: "presence", payload: { status: "in_studio", daw: "Ableton Live" } });
      await eventually(async () => (await fanC.next("presence")).status === "in_studio");
      const as = async (viewer: Producer | null) => {
        const res = await s.get(`/api/v1/users/${star.id}/presence`, viewer?.token);
        return { status: res.status, body: await res.json() };
      };
      const live = { user_id: star.id, is_online: true, is_in_studio: true, status: "in_studio", daw: "Ableton Live", last_active: expect.any(String) };
      expect(await as(fan)).toEqual({ status: 200, body: live });
      expect(await as(star)).toEqual({ status: 200, body: live });
      const offline = { user_id: star.id, is_online: false, is_in_studio: false, status: "offline", daw: "", last_active: null };
      expect(await as(stranger)).toEqual({ status: 200, body: offline });
      expect(await as(null)).toEqual({ status: 200, body: offline });
      // Unknown users are still 404 for everyone; a bad token is still 401 (the caller believes it is signed in).
      expect((await s.get("/api/v1/users/nobody/presence", stranger.token)).status).toBe(404);
      expect((await s.get(`/api/v1/users/${star.id}/presence`, "not-a-token")).status).toBe(401);
      await Promise.all([c.close(), fanC.close()]);
    } finally {
      await s.stop();
    }
  });
});

describe("changing show_activity_status while online", () => {
  test("hiding tells followers offline at once; showing again tells them the live state", async () => {
    const s = await startRealtime();
    try {
      const [a, b] = [await s.producer(), await s.producer()];
      await s.follow(b, a);
      const bc = await s.connect(b);
      const ac = await s.connect(a);
      ac.send({ type: "presence", payload: { status: "in_studio", daw: "Ableton Live" } });
      // "online" then "in_studio", or just "in_studio" when the connect's write already saw the studio status.
      let p = await bc.next("presence");
      if (p.status === "online") p = await bc.next("presence");
      expect(p).toMatchObject({ status: "in_studio" });
      await s.hide(a);
      await publishPresenceVisibility(s.running.deps, a.id);
      expect(await bc.next("presence")).toMatchObject({ user_id: a.id, is_online: false, status: "offline", last_active: null });
      await s.running.deps.database.db.update(users).set({ showActivityStatus: true }).where(eq(users.id, a.id));
      await publishPresenceVisibility(s.running.deps, a.id);
      expect(await bc.next("presence")).toMatchObject({ user_id: a.id, is_online: true, is_in_studio: true, daw: "Ableton Live" });
      await publishPresenceVisibility(s.running.deps, "nobody"); // unknown users: nothing
      await Promise.all([ac.close(), bc.close()]);
    } finally {
      await s.stop();
    }
  });
});

describe("presence without a grace period", () => {
  test("PRESENCE_GRACE_MS=0 announces offline as soon as the last connection closes", async () => {
    const s = await startRealtime({ PRESENCE_GRACE_MS: "0" });
    try {
      const [a, b] = [await s.producer(), await s.producer()];
      await s.follow(b, a);
      const bc = await s.connect(b);
      const ac = await s.connect(a);
      expect(await bc.next("presence")).toMatchObject({ status: "online" });
      await ac.close();
      expect(await bc.next("presence")).toMatchObject({ status: "offline", is_online: false });
      await bc.close();
    } finally {
      await s.stop();
    }
  });
});

// The realtime hub of one instance: WebSocket connections per user on Bun.serve's native WebSocket, presence
// transitions, and delivery of bus events to the connections that should see them (and nobody else).
//
// The protocol (frames, their schemas, close codes, the frame budget) is protocol.ts; who gets which event is
// routing.ts; which posts each user watches is watches.ts. This file is the sockets' lifecycle:
//   GET /api/v1/ws?token=<access token>   checked at the upgrade like any request: a missing/invalid/expired/revoked
//                                          token is answered 401 in the contract's JSON shape and never upgraded.
//   GET /api/v1/ws?token=<ws ticket>      the web app's socket (auth/ws-token.ts): a single-use ticket of its browser
//                                          session, taken only with an Origin equal to PUBLIC_URL's (403 otherwise);
//                                          a reused, expired or mistyped one is the same 401.
// Origin: the hub never reads a cookie, so a foreign page cannot borrow a visitor's session (no cross-site WebSocket
// hijacking); an access token works from any origin or none (the plugin sends none), as it does on the API, and a
// web app ticket only from this server's pages.
// then the per-connection limits (frame size, frame rate, idle timeout, connections per account, backpressure),
// presence transitions, session re-checks, and delivery.
//
// The plugin in the studio (docs/plugin-contract.md "Presence"): the plugin never sends a `presence` frame, and its
// WebSocket only ever runs inside a DAW, so a connection that is the plugin's puts its user `in_studio` when it
// opens. The plugin's connection is made by websocketpp, which sends `User-Agent: WebSocket++/<version>` and no
// Origin, and carries nothing but ?token=; browsers always send an Origin. Other clients say what they are with
// ?client=<name> (any name but "plugin" is not in the studio; client=plugin says it is). The DAW comes from the
// profile's `daw`, else the DAW the plugin detected for the user's newest upload. A presence frame still wins, and
// when the last studio connection closes while others stay open, the user is back to online.
//
// Ordering: events are routed concurrently (database reads) but handed to sockets strictly in arrival order, so
// every connection sees this instance's events in publish order.
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import { authenticateToken, bearerToken } from "../auth/guard.ts";
import { claimedType } from "../auth/tokens.ts";
import { redeemWsToken } from "../auth/ws-token.ts";
import type { Deps } from "../deps.ts";
import { ApiError, errors } from "../http/errors.ts";
import type { RealtimeEvent } from "./bus.ts";
import type { PresenceAggregate, PresenceEntry, LocalStatus } from "./presence-store.ts";
import { presenceView } from "./presence.ts";
import { CLOSE, cleanDaw, errorFrame, HARD_CAP_BYTES, newFrameBudget, parseClientFrame, serverFrame, takeFrameToken, type FrameBudget } from "./protocol.ts";
import { latestUploadDaw, liveSessions, visibility, writeLastActive } from "./queries.ts";
import { routeEvent, type Routed } from "./routing.ts";
import { every, realTimers, type TimerHandle, type Timers } from "./timers.ts";
import { createWatches } from "./watches.ts";
import { createHiddenCache, mayDeliver } from "./hidden.ts";
import { hiddenFrom } from "../social/block-states.ts";
import { errorFields } from "../log.ts";

export { CLOSE } from "./protocol.ts";

export const WS_PATH = "/api/v1/ws";

/**
 * True when an upgrade request is the plugin's WebSocket (see the header comment): `?client=plugin`, or no `client`
 * parameter, no Origin and websocketpp's User-Agent (plugin/src/network/WebSocketClient.cpp sets no headers of its
 * own, so websocketpp's default "WebSocket++/<version>" is what arrives).
 */
export function looksLikePlugin(request: Request): boolean {
  const client = new URL(request.url).searchParams.get("client");
  if (client !== null) return client.trim().toLowerCase() === "plugin";
  if (request.headers.has("origin")) return false;
  return /^WebSocket\+\+\//i.test(request.headers.get("user-agent") ?? "");
}

export type ConnData = {
  id: number;
  userId: string;
  sessionId: string;
  /** Over the per-user cap counted across instances (Redis) at the upgrade. */
  overCap: boolean;
  rejected: boolean;
  lastSeen: number;
  /** Token bucket of the per-connection frame rate limit. */
  budget: FrameBudget;
  /** The plugin's connection (looksLikePlugin): its user is in the studio while it is open. */
  studio: boolean;
  /** The DAW shown while in the studio through this connection ("" when unknown). */
  daw: string;
};
type Conn = ServerWebSocket<ConnData>;

type LocalUser = {
  conns: Set<Conn>;
  status: LocalStatus;
  daw: string;
  /** When the status was set (the newest entry across instances wins). */
  at: number;
  grace?: TimerHandle;
  lastActivity: number;
  lastActiveWritten: number;
  /** The status comes from a studio connection (not from a presence frame): it ends with the last of them. */
  implied: boolean;
};

export interface Hub {
  /** True for a WebSocket upgrade request to WS_PATH. */
  isUpgrade(request: Request): boolean;
  /** Authenticates and upgrades; a Response when refused (401 contract JSON), undefined once upgraded. */
  upgrade(request: Request, server: Server<ConnData>): Promise<Response | undefined>;
  /** Bun.serve's `websocket` option. */
  readonly websocket: WebSocketHandler<ConnData>;
  start(): Promise<void>;
  /** Closes every connection (1001 server_shutdown) and stops the hub's timers. */
  close(): Promise<void>;
  stats(): { connections: number; users: number };
  /** Open connections of a user on this instance. */
  connectionsOf(userId: string): number;
  /** Resolves when every event received so far has been handed to the sockets. */
  flushed(): Promise<void>;
}

export function createHub(deps: Deps, opts: { timers?: Timers } = {}): Hub {
  const { config, log, clock, bus, presence } = deps;
  const timers = opts.timers ?? realTimers;
  const store = presence.store;
  const cap = config.WS_MAX_CONNECTIONS_PER_USER;
  const idleMs = config.WS_IDLE_TIMEOUT_S * 1000;
  const maxBytes = config.WS_MAX_MESSAGE_BYTES;
  const perMinute = config.WS_MAX_MESSAGES_PER_MIN;
  const users = new Map<string, LocalUser>();
  const all = new Set<Conn>();
  const watches = createWatches({ ttlMs: config.WS_WATCH_TTL_MS });
  /** Whom each user connected here blocks, is blocked by, or mutes (hidden.ts): read at delivery, kept while connected. */
  const hidden = createHiddenCache((userId) => hiddenFrom(deps, userId));
  const here = { isConnected: (userId: string) => Boolean(users.get(userId)?.conns.size), watches };
  /** Presence writes of one user run one after another (open/close/presence frames interleave otherwise). */
  const presenceChains = new Map<string, Promise<void>>();
  let delivery: Promise<void> = Promise.resolve();
  let nextId = 1;
  let closing = false;
  const stops: (() => void)[] = [];

  // ── frames ──
  const frame = (type: string, payload: unknown) => serverFrame(type, payload, clock.now());
  const sendError = (ws: Conn, code: string, message: string) => void ws.send(errorFrame(code, message, clock.now()));
  const closeWith = (ws: Conn, why: { code: number; reason: string }, message: string) => {
    sendError(ws, why.reason, message);
    ws.close(why.code, why.reason);
  };

  // ── presence ──
  const entryOf = (u: LocalUser | undefined): PresenceEntry | null => (u ? { n: u.conns.size, status: u.status, daw: u.daw, at: u.at } : null);

  /** Writes this instance's entry as it is *now* and announces a visible change; serialized per user. */
  function syncPresence(userId: string, before?: () => Promise<void>) {
    const prev = presenceChains.get(userId) ?? Promise.resolve();
    const next = prev.then(async () => {
      try {
        await before?.();
        const r = await store.update(userId, entryOf(users.get(userId)));
        if (r.changed) await announce(userId, r.state);
      } catch (err) {
        log.error("presence update failed", { user_id: userId, ...errorFields(err) });
      }
    });
    presenceChains.set(userId, next);
    void next.then(() => {
      if (presenceChains.get(userId) === next) presenceChains.delete(userId);
    });
    return next;
  }

  /** Publishes a user's new presence to their followers, unless they hide it. */
  async function announce(userId: string, state: PresenceAggregate) {
    const v = (await visibility(deps, [userId])).get(userId);
    if (!v?.shown) return; // hidden (or deleted): nobody is told anything
    const view = presenceView(userId, state, true, v.lastActiveAt);
    await bus.publish({ type: "presence", user_id: userId, status: view.status, daw: view.daw, last_active: view.last_active });
  }

  /** last_active_at, written at most every PRESENCE_LAST_ACTIVE_WRITE_MS per user (or at once with force). */
  function touch(userId: string, u: LocalUser, force = false) {
    const now = clock.now();
    u.lastActivity = now;
    if (!force && now - u.lastActiveWritten < config.PRESENCE_LAST_ACTIVE_WRITE_MS) return;
    u.lastActiveWritten = now;
    writeLastActive(deps, userId, now).catch((err) => log.warn("could not write last_active_at", { user_id: userId, ...errorFields(err) }));
  }

  function expire(userId: string) {
    const u = users.get(userId);
    if (!u || u.conns.size > 0 || closing) return;
    users.delete(userId);
    watches.forget(userId);
    hidden.invalidate(userId);
    void syncPresence(userId, () => writeLastActive(deps, userId, u.lastActivity));
  }

  // ── routing bus events ──
  function onEvent(event: RealtimeEvent) {
    // Local bookkeeping first, synchronously, so events that follow see it.
    if (event.type === "posts_seen") {
      if (users.has(event.user_id)) watches.watch(event.user_id, event.post_ids, clock.now());
      return;
    }
    if (event.type === "hides_changed") {
      for (const id of event.user_ids) hidden.invalidate(id);
      return;
    }
    if (event.type === "sessions_revoked") {
      const u = users.get(event.user_id);
      if (u) void checkSessions([...u.conns]);
      return;
    }
    if (all.size === 0) return; // nobody here to tell
    const routed = routeEvent(deps, event, here)
      .then(withoutHidden)
      .catch((err) => {
        log.error("realtime: routing failed", { type: event.type, ...errorFields(err, { stack: true }) });
        return null;
      });
    delivery = delivery.then(async () => {
      const r = await routed;
      if (r) deliver(r.to, r.data);
    });
  }

  /** The recipients connected here who see what the event is from or about (README "Blocking and muting"). */
  async function withoutHidden(r: Routed): Promise<Routed> {
    if (!r || r.about.length === 0) return r;
    const here = [...r.to].filter((id) => users.has(id));
    const sets = await Promise.all(here.map((id) => hidden.get(id)));
    const to = here.filter((_, i) => mayDeliver(sets[i]!, r.about, r.feed === true));
    return to.length ? { ...r, to } : null;
  }

  function deliver(to: Iterable<string>, data: string | string[]) {
    const frames = typeof data === "string" ? [data] : data;
    for (const userId of to) {
      const u = users.get(userId);
      if (!u) continue;
      for (const ws of u.conns) {
        // 0: dropped (over the backpressure limit: Bun closes the socket); -1: queued; >0: sent.
        for (const f of frames) if (ws.send(f) === 0) log.debug("ws frame dropped (backpressure)", { user_id: userId });
      }
    }
  }

  // ── sessions, idleness, upkeep ──
  let checking = false;
  async function checkSessions(conns: Conn[]) {
    if (conns.length === 0) return;
    const live = await liveSessions(
      deps,
      conns.map((c) => c.data.sessionId),
      clock.now(),
    );
    for (const ws of conns) {
      if (!live.has(ws.data.sessionId) && all.has(ws)) closeWith(ws, CLOSE.sessionEnded, "This session has ended; sign in again");
    }
  }

  // Often enough for the idle timeout, and to refresh this instance's presence liveness three times per TTL.
  const tickMs = Math.max(100, Math.floor(Math.min(5000, idleMs / 4, config.PRESENCE_INSTANCE_TTL_MS / 6)));
  let lastSessionCheck = 0;
  let lastWatchSweep = 0;
  let lastBeat = 0;
  async function tick() {
    const now = clock.now();
    for (const ws of all)
      if (now - ws.data.lastSeen >= idleMs) closeWith(ws, CLOSE.idle, `No frame for ${config.WS_IDLE_TIMEOUT_S} s; send a heartbeat every 30 s`);
    if (now - lastWatchSweep >= 60_000) {
      lastWatchSweep = now;
      watches.sweep(now);
    }
    if (now - lastSessionCheck >= config.WS_SESSION_CHECK_MS && !checking) {
      lastSessionCheck = now;
      checking = true;
      checkSessions([...all])
        .catch((err) => log.error("session re-check failed", errorFields(err)))
        .finally(() => (checking = false));
    }
    if (now - lastBeat >= config.PRESENCE_INSTANCE_TTL_MS / 3) {
      lastBeat = now;
      try {
        for (const c of await store.heartbeat()) await announce(c.userId, c.state);
      } catch (err) {
        log.error("presence heartbeat failed", errorFields(err));
      }
    }
  }

  // ── client frames ──
  function onFrame(ws: Conn, raw: string | Buffer) {
    const d = ws.data;
    const now = clock.now();
    d.lastSeen = now;
    if (!takeFrameToken(d.budget, perMinute, now)) {
      if (d.budget.refused === 1) sendError(ws, "rate_limited", `At most ${perMinute} frames a minute; frames are being dropped`);
      else if (d.budget.refused > perMinute) closeWith(ws, CLOSE.rateLimited, "Too many frames");
      return;
    }
    const size = typeof raw === "string" ? Buffer.byteLength(raw) : raw.byteLength;
    if (size > maxBytes) return sendError(ws, "frame_too_large", `Frames are limited to ${maxBytes} bytes`);
    if (typeof raw !== "string") return sendError(ws, "unsupported_frame", "Send JSON text frames, not binary ones");
    const parsed = parseClientFrame(raw);
    if ("error" in parsed && !parsed.typed) return sendError(ws, parsed.error, parsed.message);
    const u = users.get(d.userId);
    if (!u) return; // closing
    touch(d.userId, u);
    if ("error" in parsed) return sendError(ws, parsed.error, parsed.message);
    const msg = parsed.frame;
    switch (msg.type) {
      case "heartbeat":
      case "ping":
        return void ws.send(frame("pong", { client_timestamp: typeof msg.timestamp === "number" ? msg.timestamp : null, server_timestamp: now }));
      case "presence": {
        const { status } = msg.payload;
        u.status = status;
        u.daw = status === "in_studio" ? cleanDaw(msg.payload.daw) : "";
        u.at = now;
        u.implied = false; // said by the client: it wins over what its connections imply
        return void syncPresence(d.userId);
      }
      case "watch":
      case "unwatch":
        if (msg.type === "unwatch") watches.unwatch(d.userId, msg.payload.post_ids);
        else watches.watch(d.userId, msg.payload.post_ids, now);
        return void ws.send(frame("watching", { post_ids: watches.of(d.userId) }));
    }
  }

  const websocket: WebSocketHandler<ConnData> = {
    maxPayloadLength: Math.max(HARD_CAP_BYTES, maxBytes * 4),
    // Idleness is ours (tick above): any client frame counts, server frames do not; Bun's own timer and its
    // automatic pings would keep a silent client alive forever.
    idleTimeout: 0,
    sendPings: false,
    backpressureLimit: 1024 * 1024,
    closeOnBackpressureLimit: true,
    // No compression: a per-socket deflate context costs far more memory than our small frames save.
    perMessageDeflate: false,
    open(ws) {
      const d = ws.data;
      const u0 = users.get(d.userId);
      if (closing) return void ws.close(CLOSE.shutdown.code, CLOSE.shutdown.reason);
      if (d.overCap || (u0?.conns.size ?? 0) >= cap) {
        d.rejected = true;
        return closeWith(ws, CLOSE.tooMany, `At most ${cap} connections per account; close another one first`);
      }
      const now = clock.now();
      let u = u0;
      if (!u) {
        u = { conns: new Set(), status: "online", daw: "", at: now, lastActivity: now, lastActiveWritten: 0, implied: false };
        users.set(d.userId, u);
      }
      // The plugin opening (or reopening) its connection: the producer is in the studio now, the newest word.
      if (d.studio && !(u.implied && u.status === "in_studio" && u.daw === d.daw)) {
        Object.assign(u, { status: "in_studio", daw: d.daw, at: now, implied: true });
      }
      // A reconnect within the grace period: the user never went offline, nobody is told anything.
      if (u.grace) timers.clearTimeout(u.grace);
      u.grace = undefined;
      u.conns.add(ws);
      all.add(ws);
      deps.metrics.websocket(1);
      touch(d.userId, u, true);
      void syncPresence(d.userId);
      log.debug("ws open", { user_id: d.userId, conn: d.id, connections: u.conns.size });
    },
    message: onFrame,
    ping(ws) {
      ws.data.lastSeen = clock.now();
    },
    pong(ws) {
      ws.data.lastSeen = clock.now();
    },
    close(ws, code) {
      const d = ws.data;
      if (all.delete(ws)) deps.metrics.websocket(-1);
      if (d.rejected) return;
      const u = users.get(d.userId);
      if (!u?.conns.delete(ws)) return;
      log.debug("ws close", { user_id: d.userId, conn: d.id, code, connections: u.conns.size });
      u.lastActivity = clock.now();
      if (closing) return;
      // The last studio connection closed while others stay: out of the studio (with none left, the grace period
      // keeps the status, so a plugin reconnecting after a network blip does not flap).
      if (d.studio && u.implied && u.conns.size > 0 && ![...u.conns].some((c) => c.data.studio)) {
        Object.assign(u, { status: "online", daw: "", at: clock.now(), implied: false });
      }
      void syncPresence(d.userId); // the connection count (the entry stays while in grace)
      if (u.conns.size > 0) return;
      // The last connection here: offline only after the grace period, so a quick reconnect does not flap.
      if (config.PRESENCE_GRACE_MS === 0) return expire(d.userId);
      u.grace = timers.setTimeout(() => expire(d.userId), config.PRESENCE_GRACE_MS);
    },
    error(err, ws) {
      log.error("ws handler failed", { user_id: ws.data.userId, ...errorFields(err, { stack: true }) });
    },
  };

  return {
    isUpgrade(request) {
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return false;
      const q = request.url.indexOf("?");
      const path = new URL(q === -1 ? request.url : request.url.slice(0, q)).pathname;
      return path === WS_PATH || path === `${WS_PATH}/`;
    },
    async upgrade(request, server) {
      const query = new URL(request.url).searchParams.get("token");
      const token = query || bearerToken(request);
      // A web app ticket only as ?token= (what a browser's WebSocket can send); any other token is an access token.
      const ticket = Boolean(query) && claimedType(query!) === "ws";
      try {
        if (closing) throw errors.unavailable("shutting_down", "The server is restarting; reconnect in a moment");
        if (!token) throw errors.unauthorized("unauthorized", "Connect with ?token=<access token>");
        const auth = ticket ? await redeemWsToken(deps, token, request.headers.get("origin")) : await authenticateToken(deps, token);
        const userId = auth.user.id;
        const studio = looksLikePlugin(request);
        const daw = studio ? cleanDaw(auth.user.daw || (await latestUploadDaw(deps, userId))) : "";
        // Across instances (Redis), the store counts every instance's connections; this one also checks at open.
        const everywhere = store.kind === "redis" ? ((await store.read([userId])).get(userId)?.connections ?? 0) : 0;
        const now = clock.now();
        const data: ConnData = {
          id: nextId++,
          userId,
          sessionId: auth.session.id,
          overCap: everywhere >= cap,
          rejected: false,
          lastSeen: now,
          budget: newFrameBudget(perMinute, now),
          studio,
          daw,
        };
        if (server.upgrade(request, { data })) return undefined;
        throw errors.badRequest("upgrade_failed", "Expected a WebSocket upgrade request");
      } catch (err) {
        if (err instanceof ApiError) return err.toResponse();
        log.error("ws upgrade failed", { ...errorFields(err, { stack: true }) });
        return Response.json({ error: "internal_error", message: "Something went wrong on the server; the error has been logged" }, { status: 500 });
      }
    },
    websocket,
    async start() {
      stops.push(bus.subscribe((event) => onEvent(event)));
      lastBeat = clock.now();
      await store.heartbeat().catch((err) => log.error("presence heartbeat failed", errorFields(err)));
      stops.push(every(timers, tickMs, tick));
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const stop of stops) stop();
      for (const [userId, u] of users) {
        if (u.grace) timers.clearTimeout(u.grace);
        // Final last_active; presence entries are left to expire with this instance (see presence-store.ts).
        await writeLastActive(deps, userId, u.lastActivity).catch(() => undefined);
      }
      for (const ws of [...all]) ws.close(CLOSE.shutdown.code, CLOSE.shutdown.reason);
      await delivery;
      await Promise.all(presenceChains.values());
    },
    stats: () => ({ connections: all.size, users: users.size }),
    connectionsOf: (userId) => users.get(userId)?.conns.size ?? 0,
    flushed: () => delivery,
  };
}

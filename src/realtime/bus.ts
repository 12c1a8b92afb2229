// The internal event bus. Features publish *after* their transaction commits (src/realtime/events.ts has the
// helpers); the realtime hub of every instance subscribes and routes each event to its own WebSocket clients.
//
//   in-process (default)   handlers run in publish order, on a microtask after publish() (never inside the caller)
//   Redis (REDIS_URL)      the same local delivery, plus PUBLISH on one channel `<REDIS_PREFIX>:events` as JSON
//                          {origin, event}; each instance's subscriber drops its own messages (origin = its instance
//                          id: it already delivered them locally) and hands the others to its handlers.
//
// Events carry ids and numbers, not rendered frames: the instance that delivers loads what it needs (the post, the
// followers) and knows which of its own connections should see it. Delivery is at most once: an instance that is
// disconnected from Redis misses events published meanwhile (clients refetch on reconnect, as after any drop).
import type { RedisClient } from "bun";
import type { Logger } from "../lib/types.ts";
import { errorFields } from "../log.ts";

export type PresenceStatus = "online" | "in_studio" | "away" | "offline";

export type RealtimeEvent =
  /** A post became ready: its author's followers get `new_post`. */
  | { type: "post_ready"; post_id: string }
  /** A reaction was set/changed (liked) or removed: the owner and the post's recent viewers get post_liked/unliked. */
  | {
      type: "reaction";
      post_id: string;
      owner_id?: string;
      actor_id: string;
      liked: boolean;
      emoji: string;
      like_count: number;
      reaction_counts: Record<string, number>;
    }
  /** A comment was written (created) or deleted: the owner and the post's recent viewers get new_comment/comment_deleted. */
  | { type: "comment"; post_id: string; owner_id: string; actor_id: string; comment_id: string; comment_count: number; created: boolean }
  /** Someone followed (following) or unfollowed someone: the followee gets `follow` / `unfollow`. */
  | { type: "follow"; followee_id: string; follower_id: string; follower_count: number; following: boolean }
  /** A notification for its recipient. */
  | { type: "notification"; user_id: string; notification: Record<string, unknown> }
  /** A user's visible presence changed: their followers get `presence`. Never published for a hidden user. */
  | { type: "presence"; user_id: string; status: PresenceStatus; daw: string; last_active: string | null }
  /** Posts a user was just shown over HTTP (feeds): reactions to them reach that user for WS_WATCH_TTL_MS. */
  | { type: "posts_seen"; user_id: string; post_ids: string[] }
  /** Sessions of a user ended (logout, password change...): their connections are re-checked at once. */
  | { type: "sessions_revoked"; user_id: string }
  /** A block or mute between these users was made or undone: each hub forgets what it knew hidden from them. */
  | { type: "hides_changed"; user_ids: string[] };

export type BusHandler = (event: RealtimeEvent, origin: string) => void;

export interface Bus {
  readonly kind: "memory" | "redis";
  /** This process's id on the bus (also its id in the shared presence store). */
  readonly instanceId: string;
  /** Delivers to local subscribers (in order) and, with Redis, to every other instance. Never throws. */
  publish(event: RealtimeEvent): Promise<void>;
  /** Returns the unsubscribe function. */
  subscribe(handler: BusHandler): () => void;
  close(): Promise<void>;
}

function localFanout(log: Logger) {
  const handlers = new Set<BusHandler>();
  return {
    handlers,
    deliver(event: RealtimeEvent, origin: string) {
      // A microtask per event: FIFO, so events reach handlers in publish order, and never in the publisher's stack.
      queueMicrotask(() => {
        for (const h of handlers) {
          try {
            h(event, origin);
          } catch (err) {
            log.error("bus handler failed", { type: event.type, ...errorFields(err, { stack: true }) });
          }
        }
      });
    },
  };
}

export function createMemoryBus(log: Logger, instanceId: string = Bun.randomUUIDv7()): Bus {
  const fan = localFanout(log);
  return {
    kind: "memory",
    instanceId,
    async publish(event) {
      fan.deliver(event, instanceId);
    },
    subscribe(handler) {
      fan.handlers.add(handler);
      return () => void fan.handlers.delete(handler);
    },
    async close() {
      fan.handlers.clear();
    },
  };
}

/** Two connections: commands (publish, presence) and a dedicated subscriber (a subscribed connection runs nothing else). */
export type RedisPair = { cmd: RedisClient; sub: RedisClient };

export async function openRedis(url: string): Promise<RedisPair> {
  const cmd = new Bun.RedisClient(url, { connectionTimeout: 5000, autoReconnect: true, enableOfflineQueue: true });
  await cmd.connect();
  const sub = await cmd.duplicate();
  return { cmd, sub };
}

type Wire = { origin: string; event: RealtimeEvent };

export async function createRedisBus(redis: RedisPair, opts: { log: Logger; prefix: string; instanceId?: string }): Promise<Bus> {
  const { log } = opts;
  const instanceId = opts.instanceId ?? Bun.randomUUIDv7();
  const channel = `${opts.prefix}:events`;
  const fan = localFanout(log);
  let closed = false;
  const onMessage = (message: string) => {
    let wire: Wire;
    try {
      wire = JSON.parse(message) as Wire;
    } catch {
      log.warn("bus: unreadable message on the channel", { channel });
      return;
    }
    if (!wire || typeof wire.origin !== "string" || !wire.event || typeof wire.event.type !== "string") return;
    if (wire.origin === instanceId) return; // ours: already delivered locally
    fan.deliver(wire.event, wire.origin);
  };
  await redis.sub.subscribe(channel, onMessage);
  // Bun reconnects by itself; a new connection has no subscriptions, so subscribe again (events published while
  // we were away are lost: pub/sub keeps nothing).
  let dropped = false;
  redis.sub.onclose = () => {
    if (!closed) dropped = true;
  };
  redis.sub.onconnect = () => {
    if (!dropped || closed) return;
    dropped = false;
    log.warn("bus: reconnected to Redis; events published meanwhile were missed", { channel });
    redis.sub.subscribe(channel, onMessage).catch((err) => log.error("bus: resubscribe failed", errorFields(err)));
  };
  return {
    kind: "redis",
    instanceId,
    async publish(event) {
      fan.deliver(event, instanceId);
      try {
        await redis.cmd.publish(channel, JSON.stringify({ origin: instanceId, event } satisfies Wire));
      } catch (err) {
        log.error("bus: publish to Redis failed; other instances miss this event", { type: event.type, ...errorFields(err) });
      }
    },
    subscribe(handler) {
      fan.handlers.add(handler);
      return () => void fan.handlers.delete(handler);
    },
    async close() {
      closed = true;
      fan.handlers.clear();
      // Closing anyway: a Redis that went away would leave the unsubscribe waiting for a reconnect, and the stop with it.
      await Promise.race([redis.sub.unsubscribe(channel).catch(() => undefined), Bun.sleep(1000)]);
      // The bus owns both connections (the presence store borrows `cmd` and is closed before the bus).
      redis.sub.close();
      redis.cmd.close();
    },
  };
}

// Where presence lives, so that every instance answers the same: in memory (one instance), or Redis (scaled out).
//
// Each instance writes only its own *entry* per user: {n: open connections here, status, daw, at: when the status
// was set}. An instance keeps a user's entry while that user has a connection there or is in the grace period
// after the last one closed (n = 0). A user's presence is the aggregate of the live entries: online when there is
// one; the status and DAW of the most recently set entry; connections = the sum of n (for the per-user cap). update()
// writes an entry and, atomically with it, compares the new
// aggregate with the last one announced for that user, so exactly one instance learns "it changed" and publishes
// the `presence` event, however the instances interleave.
//
// Redis layout (all keys under REDIS_PREFIX; standalone Redis, not Cluster: the script reads instance keys it is not
// given):
//   <p>:presence:<user>        hash   instance id → entry JSON
//   <p>:presence-pub:<user>    string the last announced "status|daw" (absent = offline)
//   <p>:instance:<id>          string liveness of an instance, PX = PRESENCE_INSTANCE_TTL_MS, refreshed every third
//   <p>:instance-users:<id>    set    users with an entry from that instance (what to clean when it dies)
//   <p>:instances              set    instance ids ever seen (the reaper's list)
// Entries of an instance whose liveness key has expired no longer count. A live instance that sees a dead one
// reaps it: it removes the dead instance's entries through the same script and publishes the resulting offline
// transitions. A graceful stop leaves its entries to expire the same way, so a rolling restart does not flap the
// users who reconnect elsewhere within the TTL.
import type { RedisClient } from "bun";
import type { PresenceStatus } from "./bus.ts";

export type LocalStatus = Exclude<PresenceStatus, "offline">;
export type PresenceEntry = { n: number; status: LocalStatus; daw: string; at: number };
export type PresenceAggregate = { online: boolean; status: PresenceStatus; daw: string; at: number; connections: number };
export type UpdateResult = { changed: boolean; state: PresenceAggregate };

export const OFFLINE: PresenceAggregate = Object.freeze({ online: false, status: "offline", daw: "", at: 0, connections: 0 });

export interface PresenceStore {
  readonly kind: "memory" | "redis";
  /** Writes this instance's entry for a user (null removes it) and tells whether the visible aggregate changed. */
  update(userId: string, entry: PresenceEntry | null): Promise<UpdateResult>;
  /** The aggregate of each user (OFFLINE when unknown). */
  read(userIds: readonly string[]): Promise<Map<string, PresenceAggregate>>;
  /**
   * Periodic upkeep (Redis: refreshes this instance's liveness, reaps dead instances). Returns the users whose
   * aggregate changed because of a reap, for the caller to announce.
   */
  heartbeat(): Promise<{ userId: string; state: PresenceAggregate }[]>;
  close(): Promise<void>;
}

/** Statuses set at the same millisecond on two instances: the one a client said wins over the default "online"
 *  a bare connection sets (the same order in the Redis script below), whatever order the entries are read in. */
const TIE_RANK: Record<LocalStatus, number> = { online: 0, away: 1, in_studio: 2 };
const newer = (e: PresenceEntry, than: PresenceEntry) => e.at > than.at || (e.at === than.at && TIE_RANK[e.status] >= TIE_RANK[than.status]);

function aggregate(entries: Iterable<PresenceEntry>): PresenceAggregate {
  let best: PresenceEntry | undefined;
  let connections = 0;
  for (const e of entries) {
    connections += e.n;
    if (!best || newer(e, best)) best = e;
  }
  return best ? { online: true, status: best.status, daw: best.daw, at: best.at, connections } : OFFLINE;
}

const visible = (a: PresenceAggregate) => `${a.status}|${a.online ? a.daw : ""}`;

export function createMemoryPresenceStore(instanceId: string): PresenceStore {
  const entries = new Map<string, Map<string, PresenceEntry>>();
  const announced = new Map<string, string>();
  return {
    kind: "memory",
    async update(userId, entry) {
      let mine = entries.get(userId);
      if (entry) {
        if (!mine) entries.set(userId, (mine = new Map()));
        mine.set(instanceId, { ...entry });
      } else if (mine) {
        mine.delete(instanceId);
        if (mine.size === 0) entries.delete(userId);
      }
      const state = aggregate(entries.get(userId)?.values() ?? []);
      const now = visible(state);
      const before = announced.get(userId) ?? visible(OFFLINE);
      if (now === before) return { changed: false, state };
      if (state.online) announced.set(userId, now);
      else announced.delete(userId);
      return { changed: true, state };
    },
    async read(userIds) {
      const out = new Map<string, PresenceAggregate>();
      for (const id of userIds) out.set(id, aggregate(entries.get(id)?.values() ?? []));
      return out;
    },
    async heartbeat() {
      return [];
    },
    async close() {
      entries.clear();
      announced.clear();
    },
  };
}

// KEYS: 1 presence hash, 2 announced key, 3 this instance's user set
// ARGV: 1 instance id, 2 entry JSON or "" (remove), 3 user id, 4 instance liveness key prefix
// Returns {changed, status, daw, at, connections}.
const UPDATE_SCRIPT = `
local h = KEYS[1]
if ARGV[2] == '' then
  redis.call('HDEL', h, ARGV[1])
  redis.call('SREM', KEYS[3], ARGV[3])
else
  redis.call('HSET', h, ARGV[1], ARGV[2])
  redis.call('SADD', KEYS[3], ARGV[3])
end
local all = redis.call('HGETALL', h)
local status, daw, at, n, online = 'offline', '', -1, 0, false
local rank = { online = 0, away = 1, in_studio = 2, offline = -1 }
for i = 1, #all, 2 do
  local inst = all[i]
  if inst == ARGV[1] or redis.call('EXISTS', ARGV[4] .. inst) == 1 then
    local e = cjson.decode(all[i + 1])
    online = true
    n = n + e.n
    if e.at > at or (e.at == at and rank[e.status] >= rank[status]) then at = e.at; status = e.status; daw = e.daw end
  else
    redis.call('HDEL', h, inst)
  end
end
if not online then status = 'offline'; daw = ''; at = 0 end
local now = status .. '|' .. daw
local before = redis.call('GET', KEYS[2]) or 'offline|'
local changed = 0
if now ~= before then
  changed = 1
  if online then redis.call('SET', KEYS[2], now) else redis.call('DEL', KEYS[2]) end
end
return {changed, status, daw, tostring(at), n}
`;

export function createRedisPresenceStore(
  redis: RedisClient,
  opts: { prefix: string; instanceId: string; instanceTtlMs: number; now?: () => number },
): PresenceStore {
  const { prefix, instanceId, instanceTtlMs } = opts;
  const k = {
    hash: (u: string) => `${prefix}:presence:${u}`,
    announced: (u: string) => `${prefix}:presence-pub:${u}`,
    users: (i: string) => `${prefix}:instance-users:${i}`,
    instance: `${prefix}:instance:`,
    instances: `${prefix}:instances`,
  };
  const clock = opts.now ?? Date.now;

  async function runUpdate(inst: string, userId: string, entry: PresenceEntry | null): Promise<UpdateResult> {
    const r = (await redis.send("EVAL", [
      UPDATE_SCRIPT,
      "3",
      k.hash(userId),
      k.announced(userId),
      k.users(inst),
      inst,
      entry ? JSON.stringify(entry) : "",
      userId,
      k.instance,
    ])) as [number, string, string, string, number];
    const [changed, status, daw, at, connections] = r;
    const online = status !== "offline";
    return { changed: changed === 1, state: online ? { online, status: status as PresenceStatus, daw, at: Number(at), connections } : OFFLINE };
  }

  /** Which of `ids` are live instances (one MGET of their liveness keys). */
  async function liveAmong(ids: string[]): Promise<Set<string>> {
    const others = ids.filter((i) => i !== instanceId);
    const alive = others.length
      ? ((await redis.send(
          "MGET",
          others.map((i) => k.instance + i),
        )) as (string | null)[])
      : [];
    const set = new Set(others.filter((_, i) => alive[i] !== null));
    set.add(instanceId);
    return set;
  }

  async function beat() {
    await redis.send("SET", [k.instance + instanceId, String(clock()), "PX", String(instanceTtlMs)]);
    await redis.send("SADD", [k.instances, instanceId]);
  }

  return {
    kind: "redis",
    update: (userId, entry) => runUpdate(instanceId, userId, entry),
    async read(userIds) {
      const out = new Map<string, PresenceAggregate>();
      if (userIds.length === 0) return out;
      const ids = [...new Set(userIds)];
      const hashes = (await Promise.all(ids.map((u) => redis.send("HGETALL", [k.hash(u)])))).map(toObject);
      const alive = await liveAmong([...new Set(hashes.flatMap((h) => Object.keys(h)))]);
      ids.forEach((u, i) => {
        const h = hashes[i]!;
        const entries: PresenceEntry[] = [];
        for (const [inst, json] of Object.entries(h)) {
          if (!alive.has(inst)) continue;
          try {
            entries.push(JSON.parse(json) as PresenceEntry);
          } catch {
            /* a damaged entry counts as absent */
          }
        }
        out.set(u, aggregate(entries));
      });
      for (const u of userIds) if (!out.has(u)) out.set(u, OFFLINE);
      return out;
    },
    async heartbeat() {
      await beat();
      const changes: { userId: string; state: PresenceAggregate }[] = [];
      const ids: string[] = (await redis.send("SMEMBERS", [k.instances])) ?? [];
      for (const dead of ids) {
        if (dead === instanceId) continue;
        if ((await redis.send("EXISTS", [k.instance + dead])) === 1) continue;
        // Several live instances may reap the same dead one: the script is atomic and announces each change once.
        const users: string[] = (await redis.send("SMEMBERS", [k.users(dead)])) ?? [];
        for (const u of users) {
          const r = await runUpdate(dead, u, null);
          if (r.changed) changes.push({ userId: u, state: r.state });
        }
        await redis.send("SREM", [k.instances, dead]);
      }
      return changes;
    },
    async close() {},
  };
}

/** HGETALL answers a map (RESP3) or a flat [field, value, ...] array (RESP2). */
function toObject(reply: unknown): Record<string, string> {
  if (!reply) return {};
  if (Array.isArray(reply)) {
    const o: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) o[String(reply[i])] = String(reply[i + 1]);
    return o;
  }
  return reply as Record<string, string>;
}

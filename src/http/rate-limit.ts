// Rate limits. Two shapes:
// - a sliding-window counter per key (requests per client IP per route group, actions per user);
// - a failure backoff per account: after N free failures, each further failure doubles the wait, up to a cap,
//   whichever IP the attempts come from.
// A limited request gets 429 with Retry-After (errors.rateLimited).
//
// Where the counts live: in process memory by default (one instance), or in Redis with REDIS_URL, so that every
// instance behind a load balancer counts against the same limit (otherwise N instances would allow N times the
// attempts). Each Redis check is one atomic script (the window is a sorted set of hit times, the backoff a hash),
// timed by our clock (tests move it; instances are expected to run NTP). If Redis does not answer within
// REDIS_LIMIT_TIMEOUT_MS, or fails, the check falls back to this instance's own memory counts, so a Redis outage
// never blocks sign-in nor lifts the limits, and says so in the log (at most once a minute).
import type { RedisClient } from "bun";
import type { Clock, Logger } from "../lib/types.ts";
import { errorFields } from "../log.ts";
import { errors } from "./errors.ts";
import { withTimeout } from "../lib/limit.ts";

export type WindowLimiter = {
  /** Counts one request for `key`; rejects with 429 when the key is over its limit. */
  hit(key: string): Promise<void>;
};

export type FailureBackoff = {
  /** Rejects with 429 while `key` is in its backoff period. */
  check(key: string): Promise<void>;
  fail(key: string): Promise<void>;
  succeed(key: string): Promise<void>;
};

export type WindowOptions = { name: string; limit: number; windowMs: number };
export type BackoffOptions = { name: string; freeFailures: number; maxS: number };

/** Makes the limiters of one running app; every instance of a deployment gets the same answers with Redis. */
export interface RateLimits {
  readonly kind: "memory" | "redis";
  window(opts: WindowOptions): WindowLimiter;
  backoff(opts: BackoffOptions): FailureBackoff;
}

/** Seconds of backoff after `failures` failed attempts (0 while they are free); FAIL_SCRIPT below is its twin. */
function backoffSeconds(failures: number, opts: Pick<BackoffOptions, "freeFailures" | "maxS">): number {
  return failures >= opts.freeFailures ? Math.min(opts.maxS, 2 ** (failures - opts.freeFailures)) : 0;
}

export function memoryRateLimits(clock: Clock): RateLimits {
  return {
    kind: "memory",
    window(opts) {
      const hits = new Map<string, number[]>();
      let calls = 0;
      return {
        async hit(key) {
          const now = clock.now();
          const since = now - opts.windowMs;
          const list = (hits.get(key) ?? []).filter((t) => t > since);
          if (list.length >= opts.limit) {
            hits.set(key, list);
            throw errors.rateLimited((list[0]! + opts.windowMs - now) / 1000);
          }
          list.push(now);
          hits.set(key, list);
          // Forget idle keys now and then so memory stays bounded by the active clients.
          if (++calls % 1000 === 0) for (const [k, v] of hits) if (v.at(-1)! <= since) hits.delete(k);
        },
      };
    },
    backoff(opts) {
      const state = new Map<string, { failures: number; until: number }>();
      return {
        async check(key) {
          const s = state.get(key);
          const now = clock.now();
          if (s && s.until > now) throw errors.rateLimited((s.until - now) / 1000);
        },
        async fail(key) {
          const now = clock.now();
          const s = state.get(key) ?? { failures: 0, until: 0 };
          s.failures++;
          const waitS = backoffSeconds(s.failures, opts);
          if (waitS) s.until = now + waitS * 1000;
          state.set(key, s);
          if (state.size > 100_000) for (const [k, v] of state) if (v.until < now) state.delete(k);
        },
        async succeed(key) {
          state.delete(key);
        },
      };
    },
  };
}

// KEYS[1] the window's sorted set; ARGV: now, window ms, limit, a unique member. Returns -1 when counted, else the
// time of the oldest hit still in the window (the caller computes Retry-After from it).
const WINDOW_SCRIPT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return -1`;

// KEYS[1] the account's hash {failures, until}; ARGV: now, free failures, max wait s, record ttl ms. Returns until.
const FAIL_SCRIPT = `
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local free = tonumber(ARGV[2])
local untilMs = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if failures >= free then
  untilMs = tonumber(ARGV[1]) + math.min(tonumber(ARGV[3]), 2 ^ (failures - free)) * 1000
  redis.call('HSET', KEYS[1], 'until', string.format('%d', math.floor(untilMs)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return untilMs`;

/** A failed account's record is forgotten after this long without failures (the memory store keeps it until a
 * success or a sweep, which is the same in practice). */
export const BACKOFF_RECORD_TTL_MS = 24 * 3600_000;

const DOWN = Symbol("redis down");

export function redisRateLimits(redis: Pick<RedisClient, "send">, o: { prefix: string; clock: Clock; log: Logger; timeoutMs: number }): RateLimits {
  const local = memoryRateLimits(o.clock);
  let warnedAt = -Infinity;
  /** Runs a Redis command under the timeout; DOWN (and a warning now and then) when Redis is not answering. */
  const ask = async (args: [string, string[]]): Promise<unknown> => {
    try {
      return await withTimeout(redis.send(...args), o.timeoutMs);
    } catch (err) {
      const now = o.clock.now();
      if (now - warnedAt >= 60_000) {
        warnedAt = now;
        o.log.warn("rate limits: Redis unavailable, counting in this instance only", errorFields(err));
      }
      return DOWN;
    }
  };
  const key = (name: string, k: string) => `${o.prefix}:rl:${name}:${k}`;
  return {
    kind: "redis",
    window(opts) {
      const fallback = local.window(opts);
      return {
        async hit(k) {
          const now = o.clock.now();
          const r = await ask([
            "EVAL",
            [WINDOW_SCRIPT, "1", key(opts.name, k), String(now), String(opts.windowMs), String(opts.limit), `${now}:${Bun.randomUUIDv7()}`],
          ]);
          if (r === DOWN) return fallback.hit(k);
          if (Number(r) >= 0) throw errors.rateLimited((Number(r) + opts.windowMs - now) / 1000);
        },
      };
    },
    backoff(opts) {
      const fallback = local.backoff(opts);
      return {
        async check(k) {
          const r = await ask(["HGET", [key(opts.name, k), "until"]]);
          if (r === DOWN) return fallback.check(k);
          const now = o.clock.now();
          const until = Number(r ?? 0);
          if (until > now) throw errors.rateLimited((until - now) / 1000);
        },
        async fail(k) {
          const r = await ask([
            "EVAL",
            [FAIL_SCRIPT, "1", key(opts.name, k), String(o.clock.now()), String(opts.freeFailures), String(opts.maxS), String(BACKOFF_RECORD_TTL_MS)],
          ]);
          if (r === DOWN) return fallback.fail(k);
        },
        async succeed(k) {
          const r = await ask(["DEL", [key(opts.name, k)]]);
          if (r === DOWN) return fallback.succeed(k);
        },
      };
    },
  };
}

// Rate limits, kept in process memory (per instance). Two shapes:
// - a sliding-window counter per key (requests per client IP per route group);
// - a failure backoff per account: after N free failures, each further failure doubles the wait, up to a cap,
//   whichever IP the attempts come from.
// A limited request gets 429 with Retry-After (errors.rateLimited).
import type { Clock } from "../deps.ts";
import { errors } from "./errors.ts";

export type WindowLimiter = {
  /** Counts one request for `key`; throws 429 when the key is over its limit. */
  hit(key: string): void;
  reset(key?: string): void;
};

export function windowLimiter(opts: { name: string; limit: number; windowMs: number; clock: Clock }): WindowLimiter {
  const hits = new Map<string, number[]>();
  let calls = 0;
  return {
    hit(key) {
      const now = opts.clock.now();
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
    reset(key) {
      if (key === undefined) hits.clear();
      else hits.delete(key);
    },
  };
}

export type FailureBackoff = {
  /** Throws 429 while `key` is in its backoff period. */
  check(key: string): void;
  fail(key: string): void;
  succeed(key: string): void;
};

export function failureBackoff(opts: { freeFailures: number; maxS: number; clock: Clock }): FailureBackoff {
  const state = new Map<string, { failures: number; until: number }>();
  return {
    check(key) {
      const s = state.get(key);
      const now = opts.clock.now();
      if (s && s.until > now) throw errors.rateLimited((s.until - now) / 1000);
    },
    fail(key) {
      const now = opts.clock.now();
      const s = state.get(key) ?? { failures: 0, until: 0 };
      s.failures++;
      if (s.failures >= opts.freeFailures) {
        const waitS = Math.min(opts.maxS, 2 ** (s.failures - opts.freeFailures));
        s.until = now + waitS * 1000;
      }
      state.set(key, s);
      if (state.size > 100_000) for (const [k, v] of state) if (v.until < now) state.delete(k);
    },
    succeed(key) {
      state.delete(key);
    },
  };
}

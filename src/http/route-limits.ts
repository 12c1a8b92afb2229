// The named rate limits of the route table (docs/security.md "Rate limits"): one row per name, bound to a route
// with `{ rateLimit: "<name>" }` (the macro in src/auth/guard.ts) or, where a page must answer a limit with HTML
// rather than JSON, checked by name in the handler (src/web/pages.ts). Each name says which counter it spends
// (counters are shared where budgets are: the API's login and the /signin page count together) and what it is
// counted by: the client IP (under a group prefix, so each route group has its own budget in a shared counter) or
// the signed-in user. The counters themselves are built once per running app by createRouteLimits (index.ts puts
// them in deps.routeLimits), in memory or in Redis like every limit of src/http/rate-limit.ts.
import type { Config } from "../config.ts";
import type { FailureBackoff, RateLimits, WindowLimiter } from "./rate-limit.ts";

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** How many times the per-client free login failures the account-wide count allows (docs/security.md "Login backoff"). */
export const ACCOUNT_WIDE_FACTOR = 10;

/** The counters: sliding windows, by the name their keys have in Redis. */
const COUNTERS = {
  /** Auth requests per client IP, one budget per route group (login, register, refresh, forgot, verify, resend). */
  "auth-ip": (c: Config) => ({ limit: c.RATE_LIMIT_AUTH_PER_MIN, windowMs: MINUTE }),
  "device-code": (c: Config) => ({ limit: c.RATE_LIMIT_AUTH_PER_MIN, windowMs: MINUTE }),
  "device-poll": (c: Config) => ({ limit: c.RATE_LIMIT_DEVICE_POLL_PER_MIN, windowMs: MINUTE }),
  /** User-code look-ups and decisions on /device (RFC 8628 §5.1: codes are short, so guessing is throttled). */
  "device-verify": (c: Config) => ({ limit: c.RATE_LIMIT_AUTH_PER_MIN, windowMs: MINUTE }),
  /** OAuth starts, callbacks, confirmations and exchanges: each costs provider or database work. */
  "oauth-flow": (c: Config) => ({ limit: c.RATE_LIMIT_AUTH_PER_MIN, windowMs: MINUTE }),
  /** The plugin polls once a second for up to 5 minutes; four times the auth budget leaves room for a few plugins
   * behind one address. */
  "oauth-poll": (c: Config) => ({ limit: c.RATE_LIMIT_AUTH_PER_MIN * 4, windowMs: MINUTE }),
  uploads: (c: Config) => ({ limit: c.UPLOAD_RATE_PER_HOUR, windowMs: HOUR }),
  avatars: () => ({ limit: 30, windowMs: HOUR }),
  /** Room for any real use and the plugin's retries, not for mass-following. */
  follows: () => ({ limit: 300, windowMs: HOUR }),
  /** Blocks, unblocks, mutes and unmutes together: a person tidying up their feed, not a script. */
  blocks: () => ({ limit: 120, windowMs: HOUR }),
  /** Saves and unsaves: a person building a list of loops, not a script. */
  saves: () => ({ limit: 300, windowMs: HOUR }),
  /** Reposts and their undoing: a person sharing loops with their followers, not a script. */
  reposts: () => ({ limit: 120, windowMs: HOUR }),
  /** Pinning, unpinning and reordering one's own loops: a profile rearranged by hand. */
  pins: () => ({ limit: 120, windowMs: HOUR }),
  /** Generous for a person tapping emoji, a wall for a script. */
  reactions: () => ({ limit: 120, windowMs: MINUTE }),
  /** Far above anyone auditioning loops, low enough that a script cannot hammer the write lock. */
  plays: () => ({ limit: 300, windowMs: MINUTE }),
  /** The web app's WebSocket tickets: a reconnecting tab asks at most once a second, a few tabs fit. */
  "ws-tokens": () => ({ limit: 60, windowMs: MINUTE }),
  /** Comments written and edited: a lively conversation fits, a spam run does not. */
  comments: () => ({ limit: 120, windowMs: HOUR }),
  /** Reports to the staff: enough for anyone who runs into trouble, not a way to flood the queue. */
  reports: () => ({ limit: 20, windowMs: HOUR }),
  /** A data export reads every object of the account: one a day is plenty for leaving, and bounds the work. */
  exports: () => ({ limit: 1, windowMs: 24 * HOUR }),
  /** Invite links made: far more than anyone shares by hand, few enough that nobody mints thousands. */
  invites: () => ({ limit: 30, windowMs: HOUR }),
  /** Story views, deletions and highlight edits: a member listening through everyone's stories, not a script. */
  stories: () => ({ limit: 600, windowMs: HOUR }),
} satisfies Record<string, (c: Config) => { limit: number; windowMs: number }>;
type CounterName = keyof typeof COUNTERS;

/** What a named limit counts by: the client IP (key `<prefix><ip>`), the user (`<user id>`), or both in turn. */
type By = { counter: CounterName } & ({ by: "ip"; prefix: string } | { by: "user" } | { by: "ip and user" });

/** The route table's limits. A route names one; docs/security.md lists them. */
export const ROUTE_LIMITS = {
  register: { counter: "auth-ip", by: "ip", prefix: "register:" },
  login: { counter: "auth-ip", by: "ip", prefix: "login:" },
  refresh: { counter: "auth-ip", by: "ip", prefix: "refresh:" },
  /** Reset and set-password requests and redemptions (API routes and the password pages). */
  forgot: { counter: "auth-ip", by: "ip", prefix: "forgot:" },
  /** Email verification and "this was not me" (API route and pages). */
  verify: { counter: "auth-ip", by: "ip", prefix: "verify:" },
  resend: { counter: "auth-ip", by: "ip", prefix: "resend:" },
  "device-code": { counter: "device-code", by: "ip", prefix: "" },
  "device-poll": { counter: "device-poll", by: "ip", prefix: "" },
  /** Per IP (`ip:<ip>`) and per signed-in user (`user:<id>`). */
  "device-verify": { counter: "device-verify", by: "ip and user" },
  "oauth-start": { counter: "oauth-flow", by: "ip", prefix: "start:" },
  "oauth-callback": { counter: "oauth-flow", by: "ip", prefix: "callback:" },
  "oauth-confirm": { counter: "oauth-flow", by: "ip", prefix: "confirm:" },
  "oauth-exchange": { counter: "oauth-flow", by: "ip", prefix: "exchange:" },
  "oauth-poll": { counter: "oauth-poll", by: "ip", prefix: "poll:" },
  uploads: { counter: "uploads", by: "user" },
  avatars: { counter: "avatars", by: "user" },
  follows: { counter: "follows", by: "user" },
  blocks: { counter: "blocks", by: "user" },
  saves: { counter: "saves", by: "user" },
  reposts: { counter: "reposts", by: "user" },
  pins: { counter: "pins", by: "user" },
  reactions: { counter: "reactions", by: "user" },
  plays: { counter: "plays", by: "user" },
  "ws-tokens": { counter: "ws-tokens", by: "user" },
  comments: { counter: "comments", by: "user" },
  reports: { counter: "reports", by: "user" },
  exports: { counter: "exports", by: "user" },
  /** Invite pages looked up by code (/invite/CODE, /register?invite=): with the auth budget, per IP. */
  "invite-lookup": { counter: "auth-ip", by: "ip", prefix: "invite:" },
  invites: { counter: "invites", by: "user" },
  stories: { counter: "stories", by: "user" },
} as const satisfies Record<string, By>;
export type RouteLimitName = keyof typeof ROUTE_LIMITS;

/** True when the named limit counts by user, so its route must be signed in (`{ auth: true }`). */
export const countsByUser = (name: RouteLimitName): boolean => ROUTE_LIMITS[name].by !== "ip";

/** Who a request is: its client IP, and the signed-in user when there is one. */
export type Subject = { ip: string; userId?: string };

export interface RouteLimits {
  /** Counts one request of `subject` under the named limit; rejects with 429 (Retry-After) when over it. */
  hit(name: RouteLimitName, subject: Subject): Promise<void>;
  /** Failed password checks per account and client IP (docs/security.md "Login backoff"). */
  readonly loginBackoff: FailureBackoff;
  /** Failed password checks per account, from every client together. */
  readonly accountBackoff: FailureBackoff;
}

export function createRouteLimits(config: Config, limits: RateLimits): RouteLimits {
  const counters = Object.fromEntries(Object.entries(COUNTERS).map(([name, of]) => [name, limits.window({ name, ...of(config) })])) as Record<
    CounterName,
    WindowLimiter
  >;
  const maxS = config.LOGIN_BACKOFF_MAX_S;
  const freeFailures = config.LOGIN_FAILURES_BEFORE_BACKOFF;
  const userOf = (name: RouteLimitName, s: Subject) => {
    if (!s.userId) throw new Error(`the rate limit "${name}" counts by user: its route needs { auth: true }`);
    return s.userId;
  };
  return {
    async hit(name, subject) {
      const row: By = ROUTE_LIMITS[name];
      const counter = counters[row.counter];
      if (row.by === "ip") return counter.hit(`${row.prefix}${subject.ip}`);
      if (row.by === "user") return counter.hit(userOf(name, subject));
      await counter.hit(`ip:${subject.ip}`);
      await counter.hit(`user:${userOf(name, subject)}`);
    },
    loginBackoff: limits.backoff({ name: "login", freeFailures, maxS }),
    accountBackoff: limits.backoff({ name: "login-account", freeFailures: freeFailures * ACCOUNT_WIDE_FACTOR, maxS }),
  };
}

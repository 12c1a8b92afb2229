// The dependency bag handed to every feature: types only, no implementation, so any layer may import it.
// index.ts builds the real one; tests build their own (fresh database, fake clock, captured mail...).
import type { Config } from "./config.ts";
import type { Database } from "./db/client.ts";
import type { Mailer } from "./integrations/mailer.ts";
import type { Storage } from "./storage/types.ts";
import type { JobQueue } from "./jobs/queue.ts";
import type { FfmpegRunner } from "./audio/ffmpeg.ts";
import type { AudioOptions } from "./audio/options.ts";
import type { Bus } from "./realtime/bus.ts";
import type { Presence } from "./realtime/presence-types.ts";
import type { RateLimits, WindowLimiter } from "./http/rate-limit.ts";
import type { RouteLimits } from "./http/route-limits.ts";
import type { PasswordHasher } from "./auth/passwords.ts";
import type { Clock, Logger } from "./lib/types.ts";
import type { Caches } from "./caches.ts";
import type { Metrics } from "./metrics/types.ts";

export type { Clock, Logger, LogFields } from "./lib/types.ts";
export type { Caches } from "./caches.ts";

/** A readiness probe: resolves when the part works, throws with a reason when it does not. */
export type ReadinessCheck = () => Promise<void>;
/** A readiness failure whose reason /readyz may show (what is missing, e.g. an encoder); other reasons are logged only. */
export class PublicReason extends Error {}

export interface Deps {
  config: Config;
  database: Database;
  log: Logger;
  clock: Clock;
  mailer: Mailer;
  storage: Storage;
  /** The durable job queue; features register their handlers at start-up (index.ts). */
  jobs: JobQueue;
  /** The only way to run ffmpeg/ffprobe (bounded concurrency, timeouts, private temp dirs). */
  ffmpeg: FfmpegRunner;
  /** Loudness target, encoding and limits of the audio pipeline, from config. */
  audio: AudioOptions;
  /**
   * The absolute URL clients fetch a stored object from, without auth: CDN_BASE_URL/key when a CDN is set,
   * otherwise PUBLIC_URL/media/key (served from disk, or a 302 to a fresh presigned URL with S3 storage, so the
   * URLs in feeds never expire).
   */
  mediaUrl: (key: string) => string;
  /** What the features keep in memory between requests (prepared reads, exact read caches, trending): src/caches.ts. */
  caches: Caches;
  /** RATE_LIMIT_MAIL_PER_HOUR mails to one address, whatever sends them (src/auth/mail.ts). */
  mailBudget: WindowLimiter;
  /** Named checks behind GET /readyz (database, storage, ...). */
  readiness: Record<string, ReadinessCheck>;
  /**
   * The internal event bus (in process, or Redis pub/sub with REDIS_URL). Features publish through the helpers of
   * src/realtime/events.ts after their transaction commits; the realtime hub delivers to WebSocket clients.
   */
  bus: Bus;
  /** Who is online / in the studio (hidden users already off): `presence.lookup(userIds)` for author presence. */
  presence: Presence;
  /** Makes rate limiters: counted in process memory, or in Redis (shared by every instance) with REDIS_URL. */
  limits: RateLimits;
  /**
   * The named limits of the route table (`{ rateLimit: "login" }`) and the login backoff, made from `limits` once
   * per running app: the API and the browser pages spend the same counters.
   */
  routeLimits: RouteLimits;
  /**
   * What the process records for GET /metrics (src/metrics): requests, job attempts, ffmpeg runs, refused uploads,
   * WebSocket connections. NO_METRICS (every call a no-op) unless METRICS_TOKEN or METRICS_LISTEN is set.
   */
  metrics: Metrics;
  /** argon2id hashing behind PASSWORD_HASH_CONCURRENCY: one per running app, so every door shares the bound. */
  hasher: PasswordHasher;
}

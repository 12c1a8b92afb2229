// The only reader of the environment. Parsed once at start against a TypeBox schema; a bad value stops the
// start with a message naming the variable. Every variable is optional: the defaults run a complete local server.
import { type Static, Type as T } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeSync, accessSync, constants } from "node:fs";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { parseBackupSchedule } from "./backup/schedule-spec.ts";

const LogLevel = T.Union([T.Literal("debug"), T.Literal("info"), T.Literal("warn"), T.Literal("error")]);

// Names, defaults and units follow the design's "Configuration names"; README.md has the same table.
export const EnvSchema = T.Object({
  PORT: T.Integer({ minimum: 0, maximum: 65535, default: 8787 }),
  HOST: T.String({ minLength: 1, default: "localhost" }),
  PUBLIC_URL: T.Optional(T.String({ pattern: "^https?://[^\\s/]+(/[^\\s]*)?$" })),
  DATA_DIR: T.String({ minLength: 1, default: "./data" }),
  LOG_LEVEL: T.Union([LogLevel], { default: "info" }),
  DATABASE_URL: T.Optional(T.String({ pattern: "^(file:|libsql://|https?://|wss?://).+" })),
  DATABASE_AUTH_TOKEN: T.Optional(T.String()),
  DB_BUSY_TIMEOUT_MS: T.Integer({ minimum: 0, maximum: 60000, default: 5000 }),
  /** SQLite's page cache of the server's connection, in MiB (README "Configuration"). */
  DB_CACHE_MB: T.Integer({ minimum: 2, maximum: 4096, default: 64 }),
  JWT_SECRET: T.Optional(T.String({ minLength: 32 })),
  /** JSON and form bodies of every route but the two uploads (UPLOAD_MAX_BYTES, 5 MB pictures); at most 1 MiB. */
  BODY_MAX_BYTES: T.Integer({ minimum: 1024, maximum: 1024 * 1024, default: 64 * 1024 }),
  SHUTDOWN_TIMEOUT_MS: T.Integer({ minimum: 0, maximum: 600000, default: 10000 }),

  // Accounts and sessions (docs/security.md "Sessions")
  ACCESS_TOKEN_TTL_S: T.Integer({ minimum: 60, maximum: 30 * 86400, default: 86400 }),
  SESSION_IDLE_TTL_S: T.Integer({ minimum: 3600, default: 30 * 86400 }),
  SESSION_MAX_TTL_S: T.Integer({ minimum: 3600, default: 90 * 86400 }),
  PASSWORD_HASH_CONCURRENCY: T.Integer({ minimum: 1, maximum: 64, default: Math.max(1, navigator.hardwareConcurrency || 2) }),
  TRUSTED_PROXIES: T.String({ default: "" }),
  REGISTRATION_OPEN: T.Boolean({ default: true }),
  // The web app (src/web): the instance's name and one-line description, on every page and in share previews.
  INSTANCE_NAME: T.String({ minLength: 1, maxLength: 60, default: "Sidechain" }),
  INSTANCE_DESCRIPTION: T.String({ maxLength: 300, default: "Loops from producers, straight from the DAW." }),

  // Rate limits: requests per minute per client IP, and failed credential attempts per account
  RATE_LIMIT_AUTH_PER_MIN: T.Integer({ minimum: 1, default: 30 }),
  RATE_LIMIT_MAIL_PER_HOUR: T.Integer({ minimum: 1, default: 10 }),
  LOGIN_FAILURES_BEFORE_BACKOFF: T.Integer({ minimum: 1, default: 5 }),
  LOGIN_BACKOFF_MAX_S: T.Integer({ minimum: 1, default: 900 }),
  /** RFC 8628 device-code polls per client IP (a device polls every 5 s: 12 a minute). */
  RATE_LIMIT_DEVICE_POLL_PER_MIN: T.Integer({ minimum: 1, default: 120 }),

  // Mail
  SMTP_URL: T.Optional(T.String({ pattern: "^smtps?://.+" })),
  MAIL_FROM: T.String({ minLength: 3, default: "Sidechain <no-reply@localhost>" }),

  // Google and Discord sign-in: a provider is on when its client id and secret are set
  GOOGLE_CLIENT_ID: T.Optional(T.String()),
  GOOGLE_CLIENT_SECRET: T.Optional(T.String()),
  GOOGLE_AUTH_URL: T.String({ default: "https://accounts.google.com/o/oauth2/v2/auth" }),
  GOOGLE_TOKEN_URL: T.String({ default: "https://oauth2.googleapis.com/token" }),
  GOOGLE_USERINFO_URL: T.String({ default: "https://openidconnect.googleapis.com/v1/userinfo" }),
  DISCORD_CLIENT_ID: T.Optional(T.String()),
  DISCORD_CLIENT_SECRET: T.Optional(T.String()),
  DISCORD_AUTH_URL: T.String({ default: "https://discord.com/oauth2/authorize" }),
  DISCORD_TOKEN_URL: T.String({ default: "https://discord.com/api/oauth2/token" }),
  DISCORD_USERINFO_URL: T.String({ default: "https://discord.com/api/users/@me" }),

  // Media storage: local disk under DATA_DIR/media, or an S3-compatible bucket (R2, S3, MinIO)
  STORAGE: T.Union([T.Literal("local"), T.Literal("s3")], { default: "local" }),
  S3_ENDPOINT: T.Optional(T.String({ pattern: "^https?://.+" })),
  S3_REGION: T.String({ minLength: 1, default: "auto" }),
  S3_BUCKET: T.Optional(T.String({ minLength: 3 })),
  S3_ACCESS_KEY_ID: T.Optional(T.String()),
  S3_SECRET_ACCESS_KEY: T.Optional(T.String()),
  S3_FORCE_PATH_STYLE: T.Boolean({ default: false }),
  S3_PRESIGN_TTL_S: T.Integer({ minimum: 2, maximum: 604800, default: 3600 }),
  CDN_BASE_URL: T.Optional(T.String({ pattern: "^https?://.+" })),

  // Loops: upload limits and the audio pipeline
  UPLOAD_MAX_BYTES: T.Integer({ minimum: 1024, default: 50 * 1024 * 1024 }),
  UPLOAD_WAIT_MS: T.Integer({ minimum: 0, maximum: 120_000, default: 15_000 }),
  UPLOAD_RATE_PER_HOUR: T.Integer({ minimum: 1, default: 60 }),
  USER_MAX_LOOPS: T.Integer({ minimum: 0, default: 0 }),
  USER_MAX_BYTES: T.Integer({ minimum: 0, default: 0 }),
  LOOP_MIN_SECONDS: T.Number({ minimum: 0.1, maximum: 60, default: 0.5 }),
  LOOP_MAX_SECONDS: T.Number({ minimum: 1, maximum: 3600, default: 120 }),
  TARGET_LUFS: T.Number({ minimum: -40, maximum: -5, default: -14 }),
  TRUE_PEAK_DB: T.Number({ minimum: -9, maximum: 0, default: -1 }),
  MP3_BITRATE_KBPS: T.Union(
    [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320].map((n) => T.Literal(n)),
    { default: 128 },
  ),
  SILENCE_LUFS: T.Number({ minimum: -120, maximum: -30, default: -70 }),
  LOUDNESS_TOLERANCE_LU: T.Number({ minimum: 0.1, maximum: 3, default: 0.5 }),
  MP3_QUALITY: T.Integer({ minimum: 0, maximum: 9, default: 5 }),
  AUDIO_TMP_DIR: T.Optional(T.String({ minLength: 1 })),
  WAVEFORM_PEAKS: T.Integer({ minimum: 50, maximum: 10_000, default: 800 }),
  FFMPEG_PATH: T.Optional(T.String({ minLength: 1 })),
  FFPROBE_PATH: T.Optional(T.String({ minLength: 1 })),
  FFMPEG_CONCURRENCY: T.Integer({ minimum: 1, maximum: 64, default: Math.max(1, navigator.hardwareConcurrency || 2) }),
  FFMPEG_TIMEOUT_MS: T.Integer({ minimum: 1000, default: 30_000 }),

  // Durable job queue (src/jobs): loop processing, and later the Stream.io outbox
  JOB_CONCURRENCY: T.Integer({ minimum: 1, maximum: 256, default: Math.max(1, navigator.hardwareConcurrency || 2) }),
  JOB_LEASE_MS: T.Integer({ minimum: 1000, default: 30_000 }),
  JOB_TIMEOUT_MS: T.Integer({ minimum: 1000, default: 300_000 }),
  JOB_POLL_MS: T.Integer({ minimum: 10, default: 500 }),
  JOB_MAX_ATTEMPTS: T.Integer({ minimum: 1, maximum: 100, default: 5 }),
  JOB_BACKOFF_BASE_MS: T.Integer({ minimum: 1, default: 1000 }),
  JOB_BACKOFF_MAX_MS: T.Integer({ minimum: 1, default: 300_000 }),
  JOB_WORKER_ID: T.Optional(T.String({ pattern: "^[A-Za-z0-9._:-]{1,100}$" })),
  JOB_DONE_RETENTION_DAYS: T.Integer({ minimum: 1, default: 7 }),
  JOB_FAILED_RETENTION_DAYS: T.Integer({ minimum: 1, default: 30 }),

  // Stream.io (optional mirror and client tokens)
  STREAM_API_KEY: T.Optional(T.String()),
  STREAM_API_SECRET: T.Optional(T.String()),
  STREAM_BASE_URL: T.Optional(T.String({ pattern: "^https?://.+" })),

  // Realtime (src/realtime): WebSocket hub, presence, and the event bus (Redis pub/sub when scaled out)
  REDIS_URL: T.Optional(T.String({ pattern: "^(rediss?|valkeys?)://.+" })),
  REDIS_PREFIX: T.String({ pattern: "^[A-Za-z0-9._:-]{1,64}$", default: "sidechain" }),
  // With REDIS_URL the rate limits are counted in Redis; a check that takes longer falls back to this instance.
  REDIS_LIMIT_TIMEOUT_MS: T.Integer({ minimum: 10, maximum: 10_000, default: 250 }),
  // Notifications older than this are deleted hourly (0 keeps them all).
  NOTIFICATION_RETENTION_DAYS: T.Integer({ minimum: 0, maximum: 36_500, default: 90 }),
  WS_MAX_CONNECTIONS_PER_USER: T.Integer({ minimum: 1, maximum: 100, default: 5 }),
  WS_IDLE_TIMEOUT_S: T.Integer({ minimum: 1, maximum: 3600, default: 90 }),
  WS_MAX_MESSAGES_PER_MIN: T.Integer({ minimum: 1, default: 120 }),
  WS_MAX_MESSAGE_BYTES: T.Integer({ minimum: 256, maximum: 1024 * 1024, default: 16 * 1024 }),
  WS_SESSION_CHECK_MS: T.Integer({ minimum: 100, default: 30_000 }),
  WS_WATCH_TTL_MS: T.Integer({ minimum: 1000, default: 15 * 60_000 }),
  PRESENCE_GRACE_MS: T.Integer({ minimum: 0, maximum: 600_000, default: 10_000 }),
  PRESENCE_LAST_ACTIVE_WRITE_MS: T.Integer({ minimum: 0, default: 60_000 }),
  PRESENCE_INSTANCE_TTL_MS: T.Integer({ minimum: 1000, default: 15_000 }),

  // Backups (src/backup, README "Backups"): where `sidechain backup create` and the scheduled ones write (default
  // DATA_DIR/backups), when the running server takes one (grammar in src/backup/schedule-spec.ts), how many it keeps.
  BACKUP_DIR: T.Optional(T.String({ minLength: 1 })),
  BACKUP_SCHEDULE: T.String({ default: "off" }),
  BACKUP_KEEP: T.Integer({ minimum: 1, maximum: 1000, default: 7 }),
  // Metrics (src/metrics): GET /metrics in Prometheus text format, off unless one of these is set (README "Metrics").
  // METRICS_LISTEN: a second listener (host:port) answering only /metrics; METRICS_TOKEN: the bearer token /metrics
  // asks for (on the main port when METRICS_LISTEN is not set, on that listener when it is).
  METRICS_LISTEN: T.Optional(T.String({ pattern: "^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$" })),
  METRICS_TOKEN: T.Optional(T.String({ minLength: 32, maxLength: 256, pattern: "^[\\x21-\\x7e]+$" })),
});
type Env = Static<typeof EnvSchema>;

export type Config = Readonly<
  Omit<Env, "PUBLIC_URL" | "DATA_DIR" | "JWT_SECRET"> & {
    PUBLIC_URL: string;
    DATA_DIR: string;
    JWT_SECRET: string;
    /** "sqlite" (bun:sqlite file in DATA_DIR) or "libsql" (remote libSQL server). */
    DATABASE_KIND: "sqlite" | "libsql";
  }
>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses and checks the environment. Pure apart from reading the env object: no files are touched. */
export function parseEnv(env: Record<string, string | undefined> = process.env): Env {
  const keys = Object.keys(EnvSchema.properties) as (keyof Env)[];
  const raw: Record<string, unknown> = {};
  for (const k of keys) {
    const v = env[k];
    if (v !== undefined && v !== "") raw[k] = v.trim();
    // Booleans: accept the usual spellings, anything else stays a string and fails the check.
    if (typeof raw[k] === "string" && (EnvSchema.properties[k] as { type?: string }).type === "boolean") {
      const b = (raw[k] as string).toLowerCase();
      if (["1", "true", "yes", "on"].includes(b)) raw[k] = true;
      else if (["0", "false", "no", "off"].includes(b)) raw[k] = false;
    }
  }
  const value = Value.Convert(EnvSchema, Value.Default(EnvSchema, raw));
  const problems = [...Value.Errors(EnvSchema, value)].map((e) => {
    const name = e.path.replace(/^\//, "") || "(environment)";
    return `${name}=${JSON.stringify(raw[name] ?? "")}: ${e.message}`;
  });
  const v = value as Env;
  if (v.STORAGE === "s3" && !v.S3_BUCKET) problems.push(`S3_BUCKET="": required when STORAGE=s3`);
  if (v.LOOP_MIN_SECONDS >= v.LOOP_MAX_SECONDS) problems.push(`LOOP_MIN_SECONDS=${v.LOOP_MIN_SECONDS}: must be below LOOP_MAX_SECONDS`);
  if (Boolean(v.S3_ACCESS_KEY_ID) !== Boolean(v.S3_SECRET_ACCESS_KEY))
    problems.push(`S3_SECRET_ACCESS_KEY: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together`);
  const schedule = parseBackupSchedule(v.BACKUP_SCHEDULE);
  if (typeof schedule === "string") problems.push(`BACKUP_SCHEDULE=${JSON.stringify(v.BACKUP_SCHEDULE)}: ${schedule}`);
  problems.push(...metricsProblems(v));
  if (problems.length) throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
  return value as Env;
}

/** Where METRICS_LISTEN listens: its host (brackets of an IPv6 address removed) and port. */
export function metricsListen(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(":");
  return { host: value.slice(0, at).replace(/^\[(.*)\]$/, "$1"), port: Number(value.slice(at + 1)) };
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1)$/i;

/**
 * The combinations of the metrics variables that cannot work or would expose the endpoint: a listener on the main
 * port, a port out of range, or a listener beyond this machine without a token.
 */
function metricsProblems(v: Env): string[] {
  if (!v.METRICS_LISTEN) return [];
  const { host, port } = metricsListen(v.METRICS_LISTEN);
  const given = `METRICS_LISTEN=${JSON.stringify(v.METRICS_LISTEN)}`;
  if (port < 1 || port > 65535) return [`${given}: the port must be 1 to 65535`];
  if (port === v.PORT)
    return [
      `${given}: the metrics listener needs a port of its own (PORT is ${v.PORT}); leave METRICS_LISTEN unset to serve /metrics on PORT behind METRICS_TOKEN`,
    ];
  if (!LOOPBACK.test(host) && !v.METRICS_TOKEN) return [`${given}: listens beyond this machine, so set METRICS_TOKEN too (or listen on 127.0.0.1)`];
  return [];
}

/**
 * Builds the frozen config: parses the environment, makes sure DATA_DIR exists and is writable, and fills
 * secrets that were not given from DATA_DIR/secrets.json (generated once, mode 0600) so restarts keep sessions.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const e = parseEnv(env);
  const config = configOf(e);
  const dataDir = config.DATA_DIR;
  try {
    mkdirSync(dataDir, { recursive: true });
    accessSync(dataDir, constants.W_OK | constants.R_OK);
  } catch (err) {
    throw new ConfigError(`DATA_DIR=${JSON.stringify(e.DATA_DIR)}: not a writable directory (${(err as Error).message})`);
  }
  const secrets = e.JWT_SECRET ? { JWT_SECRET: e.JWT_SECRET } : loadSecrets(dataDir);
  return Object.freeze({ ...config, JWT_SECRET: secrets.JWT_SECRET });
}

/**
 * The configuration parsed values describe, without the signing secret and without touching DATA_DIR: what
 * loadConfig returns apart from JWT_SECRET. `sidechain doctor` checks DATA_DIR itself instead of creating it.
 */
export function configOf(e: Env): Omit<Config, "JWT_SECRET"> {
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, "");
  const { JWT_SECRET: _secret, ...rest } = e;
  return Object.freeze({
    ...rest,
    DATA_DIR: resolve(e.DATA_DIR),
    PUBLIC_URL: publicUrl,
    CDN_BASE_URL: e.CDN_BASE_URL?.replace(/\/+$/, ""),
    // The SDK appends "/api/v2/..." to it: a trailing slash would make "//api/v2/..." (Bun's fetch happens to
    // collapse it; a proxy in front of Stream may not).
    STREAM_BASE_URL: e.STREAM_BASE_URL?.replace(/\/+$/, ""),
    DATABASE_KIND: e.DATABASE_URL && !e.DATABASE_URL.startsWith("file:") ? "libsql" : "sqlite",
  });
}

type Secrets = { JWT_SECRET: string };

/** Reads DATA_DIR/secrets.json, creating it atomically (O_EXCL) on first start so two instances agree. */
function loadSecrets(dataDir: string): Secrets {
  const file = join(dataDir, "secrets.json");
  try {
    const fd = openSync(file, "wx", 0o600);
    try {
      writeSync(fd, JSON.stringify({ JWT_SECRET: randomBytes(48).toString("base64url") }));
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new ConfigError(`DATA_DIR: cannot create ${file} (${(err as Error).message})`);
    }
  }
  // A concurrent first start may still be writing: retry briefly until the JSON is complete.
  for (let i = 0; ; i++) {
    try {
      const s = JSON.parse(readFileSync(file, "utf8")) as Partial<Secrets>;
      if (typeof s.JWT_SECRET !== "string" || s.JWT_SECRET.length < 32) throw new Error("JWT_SECRET missing");
      chmodSync(file, 0o600);
      return { JWT_SECRET: s.JWT_SECRET };
    } catch (err) {
      if (i >= 20) throw new ConfigError(`DATA_DIR: ${file} is unreadable or damaged (${(err as Error).message})`);
      Bun.sleepSync(25);
    }
  }
}

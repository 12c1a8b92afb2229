// Composition root: load config, open the database, build the concrete deps, start the server, handle signals.
import { sql } from "drizzle-orm";
import { unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createApp, JOB_HANDLERS, VERSION } from "./app.ts";
import { ConfigError, loadConfig, metricsListen, type Config } from "./config.ts";
import { openDatabase, sqlitePath } from "./db/client.ts";
import { upgradeDatabase } from "./db/migrate.ts";
import { meta } from "./db/schema.ts";
import { type Deps, PublicReason } from "./deps.ts";
import { createLogger, errorFields, errorMessage } from "./log.ts";
import { createMailer } from "./integrations/mailer.ts";
import { setPeerAddress } from "./http/client-ip.ts";
import { MULTIPART_ENVELOPE_BYTES } from "./http/body.ts";
import { AVATAR_MAX_BYTES } from "./users/avatar.ts";
import { runCli } from "./cli.ts";
import { queueStreamBackfill } from "./integrations/stream-backfill.ts";
import { createStorage, storageOptionsFromConfig } from "./storage/index.ts";
import { createJobQueue } from "./jobs/queue.ts";
import { createFfmpegRunner, sweepStaleTempDirs } from "./audio/ffmpeg.ts";
import { resolveAudioOptions } from "./audio/options.ts";
import { failAbandonedPosts } from "./audio/process-loop.ts";
import { queueMissingRenditions } from "./audio/renditions.ts";
import { queueMissingCards } from "./posts/card.ts";
import { createMemoryBus, createRedisBus, openRedis } from "./realtime/bus.ts";
import { pruneNotifications } from "./social/notifications.ts";
import { memoryRateLimits, redisRateLimits } from "./http/rate-limit.ts";
import { createRouteLimits } from "./http/route-limits.ts";
import { createPasswordHasher } from "./auth/passwords.ts";
import { createHub, type Hub } from "./realtime/hub.ts";
import { createPresence } from "./realtime/presence.ts";
import { createMemoryPresenceStore, createRedisPresenceStore } from "./realtime/presence-store.ts";
import type { Timers } from "./realtime/timers.ts";
import { prefixedCache, readCache } from "./db/read-cache.ts";
import { prepareUserById } from "./users/service.ts";
import { prepareSessionWithUser, SESSION_CACHE_ENTRIES } from "./auth/sessions.ts";
import { createMailBudget } from "./auth/mail.ts";
import { FEED_CACHE_PAGES } from "./social/feeds.ts";
import { SEARCH_CACHE_PAGES } from "./search/service.ts";
import { COMMENT_CACHE_PAGES } from "./social/comments.ts";
import { DISCOVER_CACHE_PAGES } from "./discover/service.ts";
import { VIEWER_STATE_ENTRIES } from "./posts/enrich.ts";
import { PAGE_CACHE_ENTRIES } from "./web/html.ts";
import { MEDIA_GZIP_ENTRIES } from "./caches.ts";
import { settingsDefaults } from "./system/settings.ts";
import { Lru } from "./lib/lru.ts";
import { describeMarkers, liveMarkers, markInUse } from "./backup/in-use.ts";
import { backupsScheduled, registerBackupJob, startBackupScheduler } from "./backup/schedule.ts";
import { NO_METRICS, type Metrics } from "./metrics/types.ts";
import { createMetrics } from "./metrics/registry.ts";
import { serveMetrics } from "./metrics/endpoint.ts";
import { mediaEpoch, signMediaKey } from "./media/signed-urls.ts";

export type Running = {
  deps: Deps;
  /** The first listener; `servers` holds every one (HOST=localhost listens on 127.0.0.1 and ::1). */
  server: ReturnType<typeof Bun.serve>;
  servers: ReturnType<typeof Bun.serve>[];
  /** WebSocket connections and presence of this instance (GET /api/v1/ws). */
  hub: Hub;
  /** The listener of METRICS_LISTEN (GET /metrics only), when set. */
  metricsServer?: ReturnType<typeof Bun.serve>;
  url: string;
  /** Graceful stop: refuse new connections, let in-flight requests finish (bounded), close the database. */
  stop(): Promise<void>;
};

/** What buildDeps returns: the dependencies, and the one way to close what it built. */
export type BuiltDeps = Deps & {
  /**
   * Closes what buildDeps built, each part before what it uses: the job queue (running jobs get graceMs to finish,
   * then are given back to the queue), mail being handed over, storage, presence, the bus, the database last.
   * Idempotent. start()'s stop calls it once the servers are down; tests call it instead of repeating the order.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
};

/** Builds the real dependencies from a config. The job queue is built but not started (start() does that). */
export async function buildDeps(config: Config, overrides: Partial<Pick<Deps, "log" | "clock" | "mailer" | "storage">> = {}): Promise<BuiltDeps> {
  const log = overrides.log ?? createLogger(config.LOG_LEVEL);
  const clock = overrides.clock ?? { now: () => Date.now() };
  const database = openDatabase(config, log);
  // A newer Sidechain's database is refused; an older one is backed up first (README "Upgrading").
  const { applied } = await upgradeDatabase(database, { file: sqlitePath(config), log }).catch(async (err) => {
    await database.close();
    throw err;
  });
  if (applied) log.info("migrations applied", { count: applied });
  const now = clock.now();
  // Everything the features keep between requests, each part bounded (src/caches.ts); the read caches hold values
  // only while the database is unchanged (src/db/read-cache.ts), and nothing on libSQL.
  const caches: Deps["caches"] = {
    userById: prepareUserById(database),
    sessionWithUser: prepareSessionWithUser(database),
    sessions: readCache(database, SESSION_CACHE_ENTRIES),
    feedPages: prefixedCache(readCache(database, FEED_CACHE_PAGES), () => signingEpoch()),
    searchPages: prefixedCache(readCache(database, SEARCH_CACHE_PAGES), () => signingEpoch()),
    commentPages: prefixedCache(readCache(database, COMMENT_CACHE_PAGES), () => signingEpoch()),
    discoverPages: prefixedCache(readCache(database, DISCOVER_CACHE_PAGES), () => signingEpoch()),
    viewerStates: readCache(database, VIEWER_STATE_ENTRIES),
    pages: prefixedCache(readCache(database, PAGE_CACHE_ENTRIES), () => signingEpoch()),
    pageGzip: new Lru(PAGE_CACHE_ENTRIES),
    mediaGzip: new Lru(MEDIA_GZIP_ENTRIES),
    settings: readCache(database, 1),
    instance: { ...settingsDefaults(config) },
    trending: {},
  };
  // While "sign in to view" is on (README "Sign in to view"), media URLs are signed for the current hour and the
  // cached pages that hold them are kept per hour. The switch is read from caches.instance, which the request hooks
  // refresh from the settings before anything builds a URL (web/instance.ts, system/sign-in-to-view.ts).
  const signingEpoch = () => (caches.instance.sign_in_to_view ? `m${mediaEpoch(clock.now())}` : "");
  // GET /metrics (README "Metrics"): recorded only when it is served, so a server without it pays nothing.
  const metrics: Metrics =
    config.METRICS_TOKEN || config.METRICS_LISTEN
      ? createMetrics({
          config,
          database,
          clock,
          log,
          readCaches: {
            sessions: caches.sessions,
            feed_pages: caches.feedPages,
            search_pages: caches.searchPages,
            comment_pages: caches.commentPages,
            viewer_states: caches.viewerStates,
            pages: caches.pages,
          },
          version: VERSION,
        })
      : NO_METRICS;
  await database.db.insert(meta).values({ key: "installation_id", value: Bun.randomUUIDv7(), updatedAt: now }).onConflictDoNothing();
  const jobs = createJobQueue(
    { database, clock, log, metrics },
    {
      concurrency: config.JOB_CONCURRENCY,
      leaseMs: config.JOB_LEASE_MS,
      timeoutMs: config.JOB_TIMEOUT_MS,
      pollMs: config.JOB_POLL_MS,
      maxAttempts: config.JOB_MAX_ATTEMPTS,
      backoff: { baseMs: config.JOB_BACKOFF_BASE_MS, maxMs: config.JOB_BACKOFF_MAX_MS, jitter: 0.2 },
      cleanup: { everyMs: 3_600_000, doneAfterMs: config.JOB_DONE_RETENTION_DAYS * 86_400_000, failedAfterMs: config.JOB_FAILED_RETENTION_DAYS * 86_400_000 },
      workerId: config.JOB_WORKER_ID,
    },
  );
  // Mail goes out as jobs of the queue (its handler is registered here, with SMTP_URL); messages an older version
  // left queued without a job get one now.
  let mailer = overrides.mailer;
  if (!mailer) {
    const built = createMailer({ database, clock, log, jobs, from: config.MAIL_FROM, smtpUrl: config.SMTP_URL });
    await built.requeue();
    mailer = built;
  }
  const storage = overrides.storage ?? (await createStorage(storageOptionsFromConfig(config, clock.now)));
  const mediaBase = config.CDN_BASE_URL ?? `${config.PUBLIC_URL}/media`;
  // Realtime: in process by default; with REDIS_URL, events and presence are shared with the other instances.
  const instanceId = Bun.randomUUIDv7();
  const redis = config.REDIS_URL ? await openRedis(config.REDIS_URL) : undefined;
  const bus = redis ? await createRedisBus(redis, { log, prefix: config.REDIS_PREFIX, instanceId }) : createMemoryBus(log, instanceId);
  const presenceStore = redis
    ? createRedisPresenceStore(redis.cmd, { prefix: config.REDIS_PREFIX, instanceId, instanceTtlMs: config.PRESENCE_INSTANCE_TTL_MS })
    : createMemoryPresenceStore(instanceId);
  const limits = redis
    ? redisRateLimits(redis.cmd, { prefix: config.REDIS_PREFIX, clock, log, timeoutMs: config.REDIS_LIMIT_TIMEOUT_MS })
    : memoryRateLimits(clock);
  const ffmpeg = createFfmpegRunner({
    ffmpegPath: config.FFMPEG_PATH,
    ffprobePath: config.FFPROBE_PATH,
    concurrency: config.FFMPEG_CONCURRENCY,
    timeoutMs: config.FFMPEG_TIMEOUT_MS,
    tempDir: config.AUDIO_TMP_DIR,
    onRun: metrics.ffmpegRun,
  });
  const deps: Deps = {
    config,
    database,
    log,
    clock,
    mailer,
    storage,
    jobs,
    ffmpeg,
    audio: resolveAudioOptions({
      targetLufs: config.TARGET_LUFS,
      truePeakDb: config.TRUE_PEAK_DB,
      mp3BitrateKbps: config.MP3_BITRATE_KBPS,
      minSeconds: config.LOOP_MIN_SECONDS,
      maxSeconds: config.LOOP_MAX_SECONDS,
      silenceLufs: config.SILENCE_LUFS,
      loudnessToleranceLu: config.LOUDNESS_TOLERANCE_LU,
      mp3Quality: config.MP3_QUALITY,
      waveformPeaks: config.WAVEFORM_PEAKS,
    }),
    mediaUrl: (key) =>
      caches.instance.sign_in_to_view ? `${config.PUBLIC_URL}/media/${key}?${signMediaKey(config.JWT_SECRET, key, clock.now())}` : `${mediaBase}/${key}`,
    caches,
    metrics,
    mailBudget: createMailBudget(limits, config),
    readiness: {
      database: () => database.ping(),
      storage: () => storage.ready(),
      data_dir: async () => {
        const probe = join(config.DATA_DIR, `.ready-${Bun.randomUUIDv7()}`);
        await writeFile(probe, "ok");
        await unlink(probe);
      },
      ...(redis ? { redis: async () => void (await redis.cmd.ping()) } : {}),
      // ffmpeg and ffprobe present, runnable, with what the pipeline needs (src/audio/tools.ts; README "Audio tools").
      audio: async () => {
        const tools = await ffmpeg.tools.check();
        if (!tools.ok) throw new PublicReason(tools.problems.join("; "));
      },
    },
    bus,
    presence: createPresence({ database }, presenceStore),
    limits,
    routeLimits: createRouteLimits(config, limits),
    hasher: createPasswordHasher(config.PASSWORD_HASH_CONCURRENCY),
  };
  let closing: Promise<void> | undefined;
  const close = ({ graceMs = config.SHUTDOWN_TIMEOUT_MS }: { graceMs?: number } = {}) =>
    (closing ??= (async () => {
      await deps.jobs.stop({ graceMs });
      await deps.mailer.idle();
      await deps.storage.close();
      await deps.presence.close();
      await deps.bus.close();
      await deps.database.close();
    })());
  return Object.assign(deps, { close });
}

/** What a test may replace when it starts a real server in process (a settable clock, manual timers). */
export type StartOverrides = Parameters<typeof buildDeps>[1] & { timers?: Timers };

export async function start(config: Config, overrides: StartOverrides = {}): Promise<Running> {
  const { timers, ...depOverrides } = overrides;
  // DATA_DIR is marked in use while the server runs, so `sidechain backup restore` refuses it; a restore under way
  // makes the start fail instead (src/backup/in-use.ts).
  const restoring = liveMarkers(config.DATA_DIR).filter((m) => m.kind === "restore");
  if (restoring.length) throw new Error(`a backup is being restored into DATA_DIR ${config.DATA_DIR}: ${describeMarkers(restoring)}`);
  const unmark = markInUse(config.DATA_DIR, "server").release;
  let deps: BuiltDeps;
  try {
    deps = await buildDeps(config, depOverrides);
  } catch (err) {
    unmark();
    throw err;
  }
  registerJobHandlers(deps);
  // Scheduled backups (BACKUP_SCHEDULE): instances that have a schedule run the durable `backup` job of each slot.
  if (backupsScheduled(config)) registerBackupJob(deps);
  // A process killed mid-job leaves its ffmpeg temp dir behind; none can be older than a job's timeout when live.
  const swept = await sweepStaleTempDirs(config.AUDIO_TMP_DIR, config.JOB_TIMEOUT_MS + config.FFMPEG_TIMEOUT_MS);
  if (swept) deps.log.info("removed stale audio temp dirs", { count: swept });
  // Which ffmpeg processes loops, or why none can: an error here means every upload is refused (503) until fixed.
  const tools = await deps.ffmpeg.tools.check();
  const tool = (t: { path: string; version: string | null }) => `${t.path} (${t.version ?? "no version"})`;
  if (tools.ok) deps.log.info("audio tools", { ffmpeg: tool(tools.ffmpeg), ffprobe: tool(tools.ffprobe) });
  else
    deps.log.error('audio tools missing or broken: uploads are refused until this is fixed (README "Audio tools")', {
      problems: tools.problems,
      ffmpeg: tool(tools.ffmpeg),
      ffprobe: tool(tools.ffprobe),
    });
  await deps.jobs.start();
  // Posts made before the plugin's Ogg and PNG renditions get them through durable jobs; queueing them does not
  // hold the start up (until then such a post plays its MP3, src/audio/renditions.ts).
  const queueing = Promise.all([
    queueMissingRenditions(deps).catch((err) => deps.log.warn("queueing older posts' renditions failed", errorFields(err))),
    // Likewise their share cards (src/posts/card.ts).
    queueMissingCards(deps).catch((err) => deps.log.warn("queueing older posts' share cards failed", errorFields(err))),
    // Stream.io switched on for a community with a past: what existed before is sent by the backfill job.
    queueStreamBackfill(deps).catch((err) => deps.log.warn("queueing the Stream.io backfill failed", errorFields(err))),
  ]);
  // Old notifications go hourly (and once now); a failure is logged and tried again at the next hour.
  const prune = () =>
    pruneNotifications(deps, config.NOTIFICATION_RETENTION_DAYS)
      .then((count) => count && deps.log.info("old notifications pruned", { count, retention_days: config.NOTIFICATION_RETENTION_DAYS }))
      .catch((err) => deps.log.warn("pruning notifications failed", errorFields(err)));
  let pruning = prune();
  const pruneTimer = setInterval(() => (pruning = prune()), 3_600_000);
  pruneTimer.unref();
  // Posts left `processing` by a job that failed for good without marking them (its process died on the last
  // attempt) are marked failed once per job lease, the period in which the queue finds such jobs.
  const sweepAbandoned = () =>
    failAbandonedPosts(deps)
      .then((count) => count && deps.log.info("abandoned uploads marked failed", { count }))
      .catch((err) => deps.log.warn("sweeping abandoned uploads failed", errorFields(err)));
  let sweeping = sweepAbandoned();
  const sweepTimer = setInterval(() => (sweeping = sweepAbandoned()), config.JOB_LEASE_MS);
  sweepTimer.unref();
  const backups = startBackupScheduler(deps);
  const app = createApp(deps);
  const hub = createHub(deps, { timers });
  await hub.start();
  // Bun.serve directly (rather than app.listen) so we hold the server handles for a graceful stop. One listener
  // per address (listenAddresses): Bun binds "localhost" to one address only, and clients that try ::1 first
  // (the plugin's http://localhost:8787 on many systems) must reach us as well as those that try 127.0.0.1.
  const serve = (hostname: string, port: number) =>
    Bun.serve({
      port,
      hostname,
      // Backstop only, twice the largest route limit: each route enforces its own while the body streams, with a
      // contract-shaped 413 (docs/security.md, Request bodies), and refuses a declared length without reading it.
      maxRequestBodySize: 2 * (Math.max(config.UPLOAD_MAX_BYTES, AVATAR_MAX_BYTES) + MULTIPART_ENVELOPE_BYTES),
      fetch: (request, srv) => {
        setPeerAddress(request, srv.requestIP(request)?.address);
        // WebSocket upgrades of /api/v1/ws go to the hub (token checked like any request); the rest to the app.
        if (hub.isUpgrade(request)) return hub.upgrade(request, srv);
        return app.handle(request);
      },
      websocket: hub.websocket,
    });
  const [first, ...others] = listenAddresses(config.HOST);
  const server = serve(first!, config.PORT);
  const servers = [server];
  for (const address of others) {
    try {
      servers.push(serve(address, server.port!));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A machine without IPv6 (or without an IPv4 loopback) serves the address it has; a busy port is fatal.
      if (code === "EADDRINUSE") {
        for (const s of servers) s.stop(true);
        throw err;
      }
      deps.log.warn("cannot listen on an address of HOST; serving the others", { host: config.HOST, address, ...errorFields(err) });
    }
  }
  // METRICS_LISTEN: /metrics on a listener of its own (only that path), behind METRICS_TOKEN when it is set.
  let metricsServer: ReturnType<typeof Bun.serve> | undefined;
  if (config.METRICS_LISTEN) {
    const { host, port } = metricsListen(config.METRICS_LISTEN);
    try {
      metricsServer = serveMetrics({
        hostname: host,
        port,
        metrics: deps.metrics,
        token: config.METRICS_TOKEN,
        onError: (err) => deps.log.error("metrics scrape failed", errorFields(err, { stack: true })),
      });
    } catch (err) {
      // Taken or refused: nothing of this start may stay running.
      for (const s of servers) s.stop(true);
      await hub.close();
      await queueing;
      clearInterval(pruneTimer);
      clearInterval(sweepTimer);
      await Promise.all([pruning, sweeping]);
      await deps.close({ graceMs: 0 });
      throw err;
    }
    deps.log.info("metrics listening", { url: `http://${host.includes(":") ? `[${host}]` : host}:${metricsServer.port}/metrics` });
  }
  const url = `http://${config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST}:${server.port}`;
  const [row] = await deps.database.db.select().from(meta).where(sql`${meta.key} = 'installation_id'`);
  deps.log.info("listening", { url, public_url: config.PUBLIC_URL, version: VERSION, database: deps.database.kind, installation_id: row?.value });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      deps.log.info("stopping", { timeout_ms: config.SHUTDOWN_TIMEOUT_MS });
      // WebSockets first (1001 server_shutdown): clients reconnect to another instance or to the next start.
      await hub.close();
      metricsServer?.stop(true);
      const graceful = Promise.all(servers.map((s) => s.stop(false)));
      const timedOut = await Promise.race([graceful.then(() => false), Bun.sleep(config.SHUTDOWN_TIMEOUT_MS).then(() => true)]);
      if (timedOut) {
        deps.log.warn("in-flight requests did not finish in time; closing them");
        await Promise.all(servers.map((s) => s.stop(true)));
      }
      await queueing;
      clearInterval(pruneTimer);
      await pruning;
      clearInterval(sweepTimer);
      await sweeping;
      backups.stop();
      // Jobs still running are given back to the queue (another instance, or the next start, finishes them); then
      // the rest of what buildDeps built closes, in its order.
      await deps.close({ graceMs: config.SHUTDOWN_TIMEOUT_MS });
      unmark();
      deps.log.info("stopped");
    })());
  return { deps, server, servers, hub, url, metricsServer, stop };
}

/** The addresses HOST names: "localhost" is both loopbacks (IPv4 and IPv6), anything else is itself. */
export function listenAddresses(host: string): string[] {
  return host.toLowerCase() === "localhost" ? ["127.0.0.1", "::1"] : [host];
}

/** Each feature's job handlers (JOB_HANDLERS in app.ts), registered before the queue starts. */
export function registerJobHandlers(deps: Deps) {
  for (const register of Object.values(JOB_HANDLERS)) register(deps);
}

export async function main() {
  // Subcommands (`sidechain mail list`, src/cli.ts) run and exit; without arguments the server starts.
  // The owner's commands print for a person: the server's JSON log lines stay out of their output.
  const exitCode = await runCli(process.argv.slice(2), process.env, undefined, { buildDeps: (env) => buildDeps(loadConfig({ ...env, LOG_LEVEL: "error" })) });
  if (exitCode !== null) process.exit(exitCode);
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`sidechain: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  let running: Running;
  try {
    running = await start(config);
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === "EADDRINUSE"
        ? `an address is already in use: PORT ${config.PORT} on ${config.HOST}${config.METRICS_LISTEN ? ` or METRICS_LISTEN ${config.METRICS_LISTEN}` : ""}`
        : errorMessage(err);
    console.error(`sidechain: cannot start: ${reason}`);
    process.exit(1);
  }
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      running.stop().then(
        () => process.exit(0),
        (err) => {
          console.error(err);
          process.exit(1);
        },
      );
    });
  }
}

if (import.meta.main) await main();

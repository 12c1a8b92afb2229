// The metrics of one process (README "Metrics"): a prom-client registry built once in buildDeps (src/index.ts) and
// held by `deps.metrics`; nothing is a module-level global, so a test's fresh deps are fresh metrics.
//
// Two kinds of figures:
//   - events, recorded where they happen through the Metrics interface (src/metrics/types.ts): requests (the HTTP
//     observer), job attempts (the job queue), ffmpeg runs (the runner's onRun), refused uploads (the two upload
//     routes), WebSocket connections (the hub);
//   - state, read when Prometheus scrapes: job queue depth and the mail outbox (one grouped query each), database
//     and media sizes, the read caches' plain counters, the process's memory and CPU.
// A scrape's cost is bounded: the database figures are read at most every FIGURES_EVERY_MS of the deps clock and
// the media directory is walked at most every MEDIA_EVERY_MS; scrapes in between answer the figures last read, and
// scrapes that arrive together share one read.
import { stat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import type { ReadCache } from "../db/read-cache.ts";
import { queryRows } from "../db/prepared.ts";
import type { Clock, Logger } from "../lib/types.ts";
import { errorFields } from "../log.ts";
import { RequestHistogram } from "./request-histogram.ts";
import type { Metrics } from "./types.ts";

export const FIGURES_EVERY_MS = 10_000;
export const MEDIA_EVERY_MS = 60_000;
export const CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export type MetricsOptions = {
  config: Pick<Config, "DATA_DIR" | "DATABASE_KIND" | "DATABASE_URL" | "STORAGE">;
  database: Database;
  clock: Clock;
  log: Logger;
  /** The read caches whose lookups are counted, by the name of their `cache` label. */
  readCaches: Record<string, ReadCache<unknown>>;
  version: string;
};

type Figures = {
  jobs: { type: string; status: string; n: number }[];
  mail: { status: string; n: number }[];
  database?: { main: number; wal: number };
};

/** Builds the registry and its metrics. */
export function createMetrics(o: MetricsOptions): Metrics {
  const { database, clock, log } = o;
  const registry = new Registry();
  const registers = [registry];

  const requests = new RequestHistogram(
    "sidechain_http_request_duration_seconds",
    "HTTP requests answered by the app, by method, matched route pattern and status class",
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );

  const jobAttempts = new Counter({
    name: "sidechain_job_attempts_total",
    help: "Job attempts that ended on this instance, by job type and outcome (done, retried, failed, lost, abandoned, released)",
    labelNames: ["type", "outcome"],
    registers,
  });
  const jobSeconds = new Histogram({
    name: "sidechain_job_duration_seconds",
    help: "How long job handlers ran on this instance, by job type",
    labelNames: ["type"],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  const ffmpegSeconds = new Histogram({
    name: "sidechain_ffmpeg_duration_seconds",
    help: "ffmpeg and ffprobe processes run by this instance, by tool, pipeline stage and result (ok, failed)",
    labelNames: ["tool", "stage", "result"],
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const uploadsRefused = new Counter({
    name: "sidechain_uploads_refused_total",
    help: "Uploads (loops and snippets, API and web app) refused, by error code",
    labelNames: ["code"],
    registers,
  });
  const wsOpen = new Gauge({ name: "sidechain_websocket_connections", help: "Open WebSocket connections on this instance", registers });
  const wsOpened = new Counter({ name: "sidechain_websocket_connections_opened_total", help: "WebSocket connections accepted by this instance", registers });

  // State read at scrape time.
  let figures: { at: number; value: Figures } | undefined;
  let reading: Promise<Figures> | undefined;
  const readFigures = (): Promise<Figures> => {
    if (figures && clock.now() - figures.at < FIGURES_EVERY_MS) return Promise.resolve(figures.value);
    reading ??= (async () => {
      try {
        const value: Figures = {
          jobs: await queryRows(database, "SELECT type, status, count(*) AS n FROM jobs GROUP BY type, status", []),
          mail: await queryRows(database, "SELECT status, count(*) AS n FROM mail_outbox GROUP BY status", []),
          database: await databaseBytes(o.config, database),
        };
        figures = { at: clock.now(), value };
        return value;
      } catch (err) {
        log.warn("metrics: reading the database figures failed", errorFields(err));
        return figures?.value ?? { jobs: [], mail: [] };
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  };
  new Gauge({
    name: "sidechain_jobs",
    help: "Jobs in the queue (all instances), by type and status (queued, running, done, failed; finished ones until their retention ends)",
    labelNames: ["type", "status"],
    registers,
    async collect() {
      const { jobs } = await readFigures();
      this.reset();
      for (const r of jobs) this.set({ type: r.type, status: r.status }, Number(r.n));
    },
  });
  new Gauge({
    name: "sidechain_mail_outbox",
    help: "Messages in the mail outbox, by status (queued, sent, failed, kept)",
    labelNames: ["status"],
    registers,
    async collect() {
      const { mail } = await readFigures();
      this.reset();
      for (const r of mail) this.set({ status: r.status }, Number(r.n));
    },
  });
  if (o.config.DATABASE_KIND === "sqlite") {
    new Gauge({
      name: "sidechain_database_bytes",
      help: "Size of the SQLite database on disk, by file (main, wal)",
      labelNames: ["file"],
      registers,
      async collect() {
        const { database: size } = await readFigures();
        if (!size) return;
        this.set({ file: "main" }, size.main);
        this.set({ file: "wal" }, size.wal);
      },
    });
  }
  if (o.config.STORAGE === "local") {
    const root = join(o.config.DATA_DIR, "media");
    let media: { at: number; files: number; bytes: number } | undefined;
    let walking: Promise<void> | undefined;
    const walkMedia = () => {
      if (media && clock.now() - media.at < MEDIA_EVERY_MS) return Promise.resolve();
      walking ??= walk(root)
        .then((t) => void (media = { at: clock.now(), ...t }))
        .catch((err) => log.warn("metrics: measuring the media directory failed", errorFields(err)))
        .finally(() => (walking = undefined));
      return walking;
    };
    for (const what of ["bytes", "files"] as const) {
      new Gauge({
        name: `sidechain_media_${what}`,
        help: `${what === "bytes" ? "Bytes" : "Files"} of media in local storage (DATA_DIR/media), measured at most once a minute`,
        registers,
        async collect() {
          await walkMedia();
          if (media) this.set(media[what]);
        },
      });
    }
  }
  new Counter({
    name: "sidechain_read_cache_lookups_total",
    help: "Lookups of the exact read caches, by cache and result (hit: answered without a read of its own)",
    labelNames: ["cache", "result"],
    registers,
    collect() {
      this.reset();
      for (const [cache, { stats }] of Object.entries(o.readCaches)) {
        this.inc({ cache, result: "hit" }, stats.hits);
        this.inc({ cache, result: "miss" }, stats.misses);
      }
    },
  });
  new Gauge({
    name: "sidechain_info",
    help: "Always 1: the version, database kind and storage driver of this instance",
    labelNames: ["version", "database", "storage"],
    registers,
  }).set({ version: o.version, database: o.config.DATABASE_KIND, storage: o.config.STORAGE }, 1);

  // The process, with the names Prometheus' own clients use (prom-client's default set costs milliseconds a scrape).
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes",
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Counter({
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds",
    registers,
    collect() {
      const { user, system } = process.cpuUsage();
      this.reset();
      this.inc((user + system) / 1e6);
    },
  });
  new Gauge({ name: "process_start_time_seconds", help: "Start time of the process since unix epoch in seconds", registers }).set(
    Math.round(Date.now() / 1000 - process.uptime()),
  );

  return {
    enabled: true,
    httpRequest: (method, route, status, seconds) => requests.observe(method, route, status, seconds),
    jobAttempt(type, outcome, seconds) {
      jobAttempts.inc({ type, outcome });
      if (outcome !== "lost") jobSeconds.observe({ type }, seconds);
    },
    ffmpegRun: (tool, stage, seconds, ok) => ffmpegSeconds.observe({ tool, stage, result: ok ? "ok" : "failed" }, seconds),
    uploadRefused: (code) => uploadsRefused.inc({ code }),
    websocket(delta) {
      wsOpen.inc(delta);
      if (delta > 0) wsOpened.inc();
    },
    // The registry's families, then the request histogram's (request-histogram.ts writes its own lines).
    scrape: async () => `${await registry.metrics()}\n${requests.text()}`,
  };
}

/** The SQLite file and its WAL (page_count × page_size for the main file, which counts what it holds). */
export async function databaseBytes(config: MetricsOptions["config"], database: Database): Promise<Figures["database"]> {
  if (config.DATABASE_KIND !== "sqlite") return undefined;
  const [row] = await queryRows<{ bytes: number }>(database, "SELECT page_count * page_size AS bytes FROM pragma_page_count, pragma_page_size", []);
  const path = config.DATABASE_URL?.startsWith("file:") ? config.DATABASE_URL.slice("file:".length) : join(config.DATA_DIR, "sidechain.db");
  const wal = await stat(`${path}-wal`).then(
    (s) => s.size,
    () => 0,
  );
  return { main: Number(row?.bytes ?? 0), wal };
}

/** Files and bytes under `root` (none when it does not exist yet); the storage driver's temp dir is left out. */
export async function walk(root: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const visit = async (dir: string): Promise<void> => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return; // not created yet, or removed meanwhile
      throw err;
    }
    const subdirs: string[] = [];
    const sizes: Promise<number>[] = [];
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (!(dir === root && e.name === ".tmp")) subdirs.push(path);
      } else if (e.isFile()) {
        sizes.push(
          stat(path).then(
            (s) => s.size,
            () => -1, // deleted between readdir and stat
          ),
        );
      }
    }
    for (const size of await Promise.all(sizes)) {
      if (size < 0) continue;
      files++;
      bytes += size;
    }
    for (const sub of subdirs) await visit(sub);
  };
  await visit(root);
  return { files, bytes };
}

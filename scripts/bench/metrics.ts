// What the metrics cost (README "Metrics"; targets: /metrics p99 ≤ 5 ms, ≤ 3 % added to /health's request cost).
// On one seeded community (test/support/community.ts, DEFAULT_SEED scaled by METRICS_BENCH_SCALE), in one run:
//   1. GET /health req/s at 50 connections on a server with metrics off and on (METRICS_TOKEN), alternating
//      ROUNDS times so drift of a shared machine falls on both; the ratio on/off is the figure.
//   2. GET /metrics latency (p50, p99) with one scraper, after the feeds, a profile and unknown paths have filled
//      the request histogram, and with the table figures (jobs, outbox, sizes) read while it runs.
// Usage: bun scripts/bench/metrics.ts [seconds]   METRICS_BENCH_SCALE=0.01 for a quick check (100 users, 1,000 posts)
import { sql } from "drizzle-orm";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load, machine, signIn, startSidechain, type Load } from "./lib.ts";
import { openDatabase } from "../../src/db/client.ts";
import { applyMigrations } from "../../src/db/migrate.ts";
import { DEFAULT_SEED, seedCommunity } from "../../test/support/community.ts";

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const scale = Number(process.env.METRICS_BENCH_SCALE ?? 1);
if (!(scale > 0 && scale <= 1)) throw new Error("METRICS_BENCH_SCALE must be in (0, 1]");
const ROUNDS = 2;
const connections = 50;
const TOKEN = crypto.randomUUID() + crypto.randomUUID();
const password = "correct horse battery staple";

const dataDir = mkdtempSync(join(tmpdir(), "sc-bench-metrics-"));
const database = openDatabase({ DATA_DIR: dataDir, DATABASE_URL: undefined, DATABASE_AUTH_TOKEN: undefined, DB_BUSY_TIMEOUT_MS: 5000 });
await applyMigrations(database);
await database.db.run(sql.raw("PRAGMA cache_size = -1000000"));
const sized = (n: number) => Math.max(1, Math.round(n * scale));
const seeded = await seedCommunity(database, {
  users: sized(DEFAULT_SEED.users),
  posts: sized(DEFAULT_SEED.posts),
  // The seed draws distinct pairs: a small community has fewer of them than the scaled count.
  follows: Math.min(sized(DEFAULT_SEED.follows), Math.floor((sized(DEFAULT_SEED.users) * (sized(DEFAULT_SEED.users) - 1)) / 4)),
  reactions: sized(DEFAULT_SEED.reactions),
  days: DEFAULT_SEED.days,
  benchFollows: Math.min(DEFAULT_SEED.benchFollows, sized(DEFAULT_SEED.users) - 1),
  now: Date.now(),
  benchPasswordHash: await Bun.password.hash(password, { algorithm: "argon2id" }),
});
await database.close();
console.log(
  `seeded ${Object.entries(seeded.counts)
    .map(([k, v]) => `${v.toLocaleString("en")} ${k}`)
    .join(", ")} in ${seeded.seconds.toFixed(1)} s`,
);

const env = { DATA_DIR: dataDir, LOG_LEVEL: "warn" };
const health = async (metrics: boolean): Promise<Load> => {
  const server = await startSidechain(metrics ? { ...env, METRICS_TOKEN: TOKEN } : env);
  try {
    await load(`${server.url}/health`, { connections, seconds: 2 }); // warm-up
    return await load(`${server.url}/health`, { connections, seconds });
  } finally {
    await server.stop();
  }
};
const off: Load[] = [];
const on: Load[] = [];
for (let r = 0; r < ROUNDS; r++) {
  off.push(await health(false));
  on.push(await health(true));
}
const mean = (runs: Load[]) => runs.reduce((s, l) => s + l.rps, 0) / runs.length;

// The scrape, on a server whose histogram holds the routes a community uses.
const server = await startSidechain({ ...env, METRICS_TOKEN: TOKEN });
let scrape: Load;
let families = 0;
let bytes = 0;
try {
  const auth = await signIn(server.url, seeded.benchUser.email, password);
  for (const path of ["/api/v1/feed/timeline", "/api/v1/feed/global", "/api/v1/feed/trending", "/", `/@${seeded.benchUser.username}`, "/nope"]) {
    await load(`${server.url}${path}`, { connections: 10, seconds: 1, headers: auth });
  }
  const metricsAuth = { authorization: `Bearer ${TOKEN}` };
  const text = await (await fetch(`${server.url}/metrics`, { headers: metricsAuth })).text();
  families = text.split("\n").filter((l) => l.startsWith("# TYPE")).length;
  bytes = text.length;
  await load(`${server.url}/metrics`, { connections: 1, seconds: 1, headers: metricsAuth }); // warm-up
  scrape = await load(`${server.url}/metrics`, { connections: 1, seconds, headers: metricsAuth });
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

console.log(`machine: ${machine()}; scale ${scale}; ${connections} connections, ${seconds} s per run, ${ROUNDS} rounds`);
console.log(`/health, metrics off: ${off.map((l) => `${l.rps} req/s (p99 ${l.p99} ms)`).join(", ")}`);
console.log(`/health, metrics on:  ${on.map((l) => `${l.rps} req/s (p99 ${l.p99} ms)`).join(", ")}`);
const ratio = mean(on) / mean(off);
console.log(`ratio on / off: ${ratio.toFixed(3)} (added cost ${((1 / ratio - 1) * 100).toFixed(1)} %; target ≤ 3 %)`);
console.log(
  `/metrics, one scraper: ${scrape.rps} scrapes/s, p50 ${scrape.p50} ms, p99 ${scrape.p99} ms (target ≤ 5 ms), ` +
    `${families} families, ${(bytes / 1024).toFixed(1)} KiB, non-2xx ${scrape.non2xx}`,
);

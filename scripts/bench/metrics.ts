import { rmSync } from "node:fs";
import { load, machine, seedBenchCommunity, signIn, startSidechain, type Load } from "./lib.ts";

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const scale = Number(process.env.METRICS_BENCH_SCALE ?? 1);
const ROUNDS = 2;
const connections = 50;
const TOKEN = crypto.randomUUID() + crypto.randomUUID();
const password = "correct horse battery staple";

const { dataDir, seeded } = await seedBenchCommunity("metrics", { scale, password });

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

// The web app's server-rendered pages under load (README "Benchmarks", issue target: each ≥ 0.25× /health req/s
// at 50 connections, p99 ≤ 25 ms) on the seeded community of the feed bench (10,000 users, 100,000 ready posts;
// test/support/community.ts), next to GET /health on the same server in the same run: `/` (trending, as an
// anonymous visitor sees it), a loop page `/l/{id}` and a profile `/@{username}`, each asked as a browser asks
// (`accept-encoding: gzip`, answered from the compressed copy of the cached page) and without compression (as
// autocannon asks by default, every byte sent). Then what a feed page weighs:
// the script and the stylesheet as a browser downloads them (gzip), against the 60 KB and 20 KB budgets.
// Usage: bun scripts/bench/web.ts [seconds]
import { sql } from "drizzle-orm";
import { rmSync } from "node:fs";
import { openDatabase } from "../../src/db/client.ts";
import { type Load, load, machine, peakRss, seedBenchCommunity, startSidechain } from "./lib.ts";

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const connections = 50;

const { dataDir } = await seedBenchCommunity("web", { password: "bench password 1" });
const database = openDatabase({ DATA_DIR: dataDir, DATABASE_URL: undefined, DATABASE_AUTH_TOKEN: undefined, DB_BUSY_TIMEOUT_MS: 5000 });
const [loop] = await database.db.all<{ id: string; username: string }>(
  sql.raw(`SELECT p.id, u.username FROM posts p JOIN users u ON u.id = p.user_id WHERE p.status = 'ready' ORDER BY p.like_count DESC LIMIT 1`),
);
await database.close();

const server = await startSidechain({ DATA_DIR: dataDir });
try {
  const paths = [
    { name: "/health", path: "/health" },
    { name: "/ (trending)", path: "/" },
    { name: "/l/{id}", path: `/l/${loop!.id}` },
    { name: "/@{username}", path: `/@${loop!.username}` },
  ];
  // Each page is a full page before anything is measured (a fast error page would flatter the figures).
  for (const p of paths.slice(1)) {
    const res = await fetch(server.url + p.path);
    const html = await res.text();
    if (res.status !== 200 || !html.includes("data-player")) throw new Error(`${p.path}: ${res.status}, ${html.length} bytes without a player`);
  }
  const results: Record<string, Load> = {};
  const browser = { "accept-encoding": "gzip, deflate, br" };
  for (const p of paths) {
    await load(server.url + p.path, { connections, seconds: 2, headers: browser }); // warm-up
    results[p.name] = await load(server.url + p.path, { connections, seconds, headers: browser });
  }
  for (const p of paths.slice(1)) results[`${p.name} (no gzip)`] = await load(server.url + p.path, { connections, seconds });
  const health = results["/health"]!;
  console.log(`machine: ${machine()}; ${connections} connections, ${seconds} s each; bun:sqlite; anonymous visitor`);
  for (const [name, r] of Object.entries(results)) {
    const ratio = name === "/health" ? "" : `, ratio to /health ${(r.rps / health.rps).toFixed(3)} (target ≥ 0.25, p99 ≤ 25 ms)`;
    console.log(`${name.padEnd(26)} ${String(r.rps).padStart(6)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}${ratio}`);
  }
  const home = await (await fetch(`${server.url}/`)).text();
  const asset = (re: RegExp) => re.exec(home)?.[1];
  for (const [what, path, budget] of [
    ["script", asset(/<script type="module" src="([^"]+)"/), 60],
    ["stylesheet", asset(/<link rel="stylesheet" href="([^"]+)"/), 20],
  ] as const) {
    const res = await fetch(server.url + path, { headers: { "accept-encoding": "gzip" }, decompress: false });
    const bytes = (await res.arrayBuffer()).byteLength;
    console.log(
      `${what.padEnd(10)} ${(bytes / 1024).toFixed(1)} KB as sent (${res.headers.get("content-encoding") ?? "identity"}); budget ${budget} KB gzipped`,
    );
  }
  console.log(`server peak RSS: ${(Number(await peakRss(server.proc.pid)) / 2 ** 20).toFixed(0)} MiB`);
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

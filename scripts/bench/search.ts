// Search requests per second and p99 latency on the feed bench's seeded community (10,000 users, 100,000 ready
// posts titled "Loop <n>", BPM 80–159, keys Am/C/F#m/Eb/G; the index is filled by the migration's triggers as the
// seed writes), next to GET /health on the same server in the same run, at 50 connections: the filtered
// search (text + BPM range + key, as the plugin sends it: q, limit, offset, bpm_min, bpm_max, key), the same signed
// in (the viewer's fields and blocks), a rarer prefix, producers by name, and the username autocomplete. Targets
// (issue #15): filtered search p99 ≤ 20 ms and ≥ 0.2 × /health req/s. Each run repeats one query, which the exact
// search cache (deps.caches.searchPages) answers while nothing is written, as the feed bench's pages are.
// Usage: bun scripts/bench/search.ts [seconds] [--keep]   (SEARCH_BENCH_SCALE=0.01 seeds a hundredth of the
// community, for a quick check that the bench runs)
import { rmSync } from "node:fs";
import { load, machine, peakRss, seedBenchCommunity, signIn, startSidechain, type Load } from "./lib.ts";

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const keep = process.argv.includes("--keep");
const connections = 50;
const password = "correct horse battery staple";

const scale = Number(process.env.SEARCH_BENCH_SCALE ?? 1);
const { dataDir, seeded } = await seedBenchCommunity("search", { password, scale });
const server = await startSidechain({ DATA_DIR: dataDir });
try {
  const auth = await signIn(server.url, seeded.benchUser.email, password);
  const filtered = "/api/v1/search/posts?q=loop&limit=20&offset=0&bpm_min=100&bpm_max=110&key=Am";
  const paths: { name: string; path: string; headers?: Record<string, string>; items?: string; min: number }[] = [
    { name: "/health", path: "/health", min: 0 },
    { name: "filtered search", path: filtered, items: "posts", min: 20 },
    { name: "filtered, signed in", path: filtered, headers: auth, items: "posts", min: 20 },
    { name: "prefix, 2nd page", path: "/api/v1/search/posts?q=loop%2012&limit=10&offset=10", items: "posts", min: 1 },
    { name: "producers", path: "/api/v1/search/users?q=producer1", items: "users", min: 1 },
    { name: "autocomplete users", path: "/api/v1/search/autocomplete/users?q=produc&limit=10", items: "suggestions", min: 1 },
  ];
  // Each answer holds what it should before anything is measured (a fast error page would flatter the figures).
  for (const p of paths.slice(1)) {
    const res = await fetch(server.url + p.path, { headers: { ...p.headers, "content-type": "application/json" } });
    const body = (await res.json()) as Record<string, unknown[]>;
    const n = body[p.items!]?.length ?? 0;
    if (res.status !== 200 || n < p.min) throw new Error(`${p.path}: ${res.status}, ${n} ${p.items} (want ≥ ${p.min}): ${JSON.stringify(body).slice(0, 300)}`);
  }
  const results: Record<string, Load> = {};
  for (const p of paths) {
    const headers = { ...p.headers, "content-type": "application/json" };
    await load(server.url + p.path, { connections, seconds: 2, headers }); // warm-up
    results[p.name] = await load(server.url + p.path, { connections, seconds, headers });
  }
  const peak = await peakRss(server.proc.pid);
  const health = results["/health"]!;
  console.log(`machine: ${machine()}; ${connections} connections, ${seconds} s each; bun:sqlite; scale ${scale}`);
  for (const [name, r] of Object.entries(results)) {
    const ratio = name === "/health" ? "" : `, ratio to /health ${(r.rps / health.rps).toFixed(3)}`;
    console.log(`${name.padEnd(22)} ${String(r.rps).padStart(6)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}${ratio}`);
  }
  const f = results["filtered search"]!;
  const met = f.p99 <= 20 && f.rps >= 0.2 * health.rps;
  console.log(`target (filtered search p99 ≤ 20 ms and ≥ 0.2 × /health): ${met ? "met" : "NOT met"}`);
  console.log(`server peak RSS: ${(peak / 2 ** 20).toFixed(0)} MiB`);
} finally {
  await server.stop();
  if (keep) console.log(`kept ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}

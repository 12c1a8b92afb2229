// Search requests per second and p99 latency on the feed bench's seeded community (10,000 users, 100,000 ready
// posts titled "Loop <n>", BPM 80–159, keys Am/C/F#m/Eb/G; the index is filled by the migration's triggers as the
// seed writes), next to GET /health on the same server in the same run, at 50 connections: the filtered
// search (text + BPM range + key, as the plugin sends it: q, limit, offset, bpm_min, bpm_max, key), the same signed
// in (the viewer's fields and blocks), a rarer prefix, producers by name, and the username autocomplete. Targets
// (issue #15): filtered search p99 ≤ 20 ms and ≥ 0.2 × /health req/s. Most runs repeat one query, which the exact
// search cache (deps.caches.searchPages) answers while nothing is written, as the feed bench's pages are; the
// "varied" runs take each request from 2,800 different filtered searches (text forms × BPM windows × keys × two
// pages), ten times what the cache holds, so nearly every request is a real search.
// Usage: bun scripts/bench/search.ts [seconds] [--keep]   (SEARCH_BENCH_SCALE=0.01 seeds a hundredth of the
// community, for a quick check that the bench runs)
import { rmSync } from "node:fs";
import { SEARCH_CACHE_PAGES } from "../../src/search/service.ts";
import { load, loadPaths, peakRss, printRatios, seedBenchCommunity, signIn, startSidechain, type Load } from "./lib.ts";

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
  // Varied filtered searches, shuffled the same way every run.
  const varied: string[] = [];
  for (const q of ["loop", "loop%201", "loop%2012", "loop%20123"])
    for (let bpm = 80; bpm < 150; bpm++)
      for (const key of ["Am", "C", "F%23m", "Eb", "G"])
        for (const offset of [0, 20]) varied.push(`/api/v1/search/posts?q=${q}&limit=20&offset=${offset}&bpm_min=${bpm}&bpm_max=${bpm + 10}&key=${key}`);
  let seed = 7;
  for (let i = varied.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [varied[i], varied[j]] = [varied[j]!, varied[i]!];
  }
  if (varied.length < 10 * SEARCH_CACHE_PAGES) throw new Error("the varied searches must outnumber the cache's pages");
  const json = { "content-type": "application/json" };
  await loadPaths(server.url, varied, { connections, seconds: 2, headers: json }); // warm-up
  results["filtered, varied"] = await loadPaths(server.url, varied, { connections, seconds, headers: json });
  results["varied, signed in"] = await loadPaths(server.url, varied, { connections, seconds, headers: { ...json, ...auth } });
  const peak = await peakRss(server.proc.pid);
  const health = printRatios(results, { connections, seconds, scale });
  for (const name of ["filtered search", "filtered, varied"]) {
    const f = results[name]!;
    const met = f.p99 <= 20 && f.rps >= 0.2 * health.rps;
    console.log(`target (${name}: p99 ≤ 20 ms and ≥ 0.2 × /health): ${met ? "met" : "NOT met"}`);
  }
  console.log(`server peak RSS: ${(peak / 2 ** 20).toFixed(0)} MiB`);
} finally {
  await server.stop();
  if (keep) console.log(`kept ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}

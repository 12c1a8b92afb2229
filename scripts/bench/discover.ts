// Discover requests per second and p99 latency on the feed bench's seeded community (10,000 users, 100,000 ready
// loops "Loop <n>": BPM 80–159, keys Am/C/F#m/Eb/G, genre lofi; post_genres is filled by the migration's triggers as
// the seed writes), next to GET /health on the same server in the same run, at 50 connections (README "Discover").
// Similar loops are asked for many different source loops, never one repeated:
// - "similar, 8 sources": eight source loops asked in turn by 50 connections, which the exact discover cache answers
//   while nothing is written (as the search and feed benches' pages are);
// - "similar, uncached": 1,000 source loops asked in turn by 50 connections of this script's own client, more than
//   the cache holds (256 pages), so every request computes its page (the SQL, the posts, their enrichment).
// Also the genres with counts, a genre's first and a deeper page, producers you may like (signed in). Target
// (issue #15): similar loops p99 ≤ 10 ms.
// Usage: bun scripts/bench/discover.ts [seconds] [--keep]   (DISCOVER_BENCH_SCALE=0.01 seeds a hundredth of the
// community, for a quick check that the bench runs)
import { rmSync } from "node:fs";
import { DEFAULT_SEED } from "../../test/support/community.ts";
import { load, machine, peakRss, seedBenchCommunity, signIn, startSidechain, type Load } from "./lib.ts";

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const keep = process.argv.includes("--keep");
const connections = 50;
const password = "correct horse battery staple";

const scale = Number(process.env.DISCOVER_BENCH_SCALE ?? 1);
const posts = Math.max(1, Math.round(DEFAULT_SEED.posts * scale));
/** The seed's post ids (test/support/community.ts), so source loops are chosen without asking the server. */
const postId = (i: number) => `0191${String(i).padStart(8, "0")}-0000-7000-8000-${String(i).padStart(12, "0")}`;
const spread = (n: number) => Array.from({ length: n }, (_, k) => postId(Math.floor(((k + 0.5) * posts) / n)));

/** Requests/s and latency percentiles of `conns` connections asking for `urls` in turn (each connection from its own start). */
async function roundRobin(urls: string[], conns: number, secs: number): Promise<Load> {
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  const end = performance.now() + secs * 1000;
  await Promise.all(
    Array.from({ length: conns }, async (_, c) => {
      for (let i = c; performance.now() < end; i += conns) {
        const t0 = performance.now();
        try {
          const res = await fetch(urls[i % urls.length]!, { headers: { "content-type": "application/json" } });
          await res.arrayBuffer();
          if (res.status !== 200) non2xx++;
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 10) / 10;
  return { rps: Math.round(latencies.length / secs), p50: at(0.5), p99: at(0.99), errors, non2xx, requests: latencies.length };
}

const json = { "content-type": "application/json" };
const { dataDir, seeded } = await seedBenchCommunity("discover", { password, scale });
const server = await startSidechain({ DATA_DIR: dataDir });
try {
  const auth = await signIn(server.url, seeded.benchUser.email, password);
  const similar = (id: string) => `${server.url}/api/v1/recommendations/similar-posts/${id}?limit=10`;
  const eight = spread(8).map(similar);
  const thousand = spread(Math.min(1000, posts)).map(similar);
  // Each answer holds what it should before anything is measured (a fast error page would flatter the figures).
  const checks: [string, string, Record<string, string>, number][] = [
    [eight[0]!, "posts", {}, 10],
    [thousand.at(-1)!, "posts", {}, 1],
    [`${server.url}/api/v1/discover/genres`, "genres", {}, 1],
    [`${server.url}/api/v1/discover/genre/lofi?limit=20&offset=0`, "posts", {}, 20],
    // (At a tiny scale the bench user follows nearly everyone, so nobody is left to suggest.)
    [`${server.url}/api/v1/users/recommended?limit=10&offset=0`, "users", auth, scale < 0.5 ? 0 : 1],
  ];
  for (const [url, items, headers, min] of checks) {
    const res = await fetch(url, { headers: { ...headers, ...json } });
    const body = (await res.json()) as Record<string, unknown[]>;
    const n = body[items]?.length ?? 0;
    if (res.status !== 200 || n < min) throw new Error(`${url}: ${res.status}, ${n} ${items} (want ≥ ${min}): ${JSON.stringify(body).slice(0, 300)}`);
  }
  const results: Record<string, Load> = {};
  const single: [string, string, Record<string, string>?][] = [
    ["/health", `${server.url}/health`],
    ["genres with counts", `${server.url}/api/v1/discover/genres`],
    ["genre, 1st page", `${server.url}/api/v1/discover/genre/lofi?limit=20&offset=0`],
    ["genre, page 50", `${server.url}/api/v1/discover/genre/lofi?limit=20&offset=1000`],
    ["you may like (signed in)", `${server.url}/api/v1/users/recommended?limit=10&offset=0`, auth],
  ];
  for (const [name, url, headers] of single) {
    await load(url, { connections, seconds: 2, headers: { ...headers, ...json } }); // warm-up
    results[name] = await load(url, { connections, seconds, headers: { ...headers, ...json } });
  }
  // The similar loops runs and their /health reference go through this script's own client (one process: eight
  // autocannon processes side by side would take the server's CPU on a small machine).
  await roundRobin([`${server.url}/health`], connections, 2);
  results["/health (own client)"] = await roundRobin([`${server.url}/health`], connections, seconds);
  await roundRobin(eight, connections, 2);
  results["similar, 8 sources"] = await roundRobin(eight, connections, seconds);
  await roundRobin(thousand, connections, 2);
  results["similar, uncached"] = await roundRobin(thousand, connections, seconds);
  const peak = await peakRss(server.proc.pid);
  const health = results["/health"]!;
  console.log(`machine: ${machine()}; ${connections} connections, ${seconds} s each; bun:sqlite; scale ${scale}`);
  for (const [name, r] of Object.entries(results)) {
    const own = name.startsWith("similar");
    const reference = own ? results["/health (own client)"]! : health;
    const ratio = name.startsWith("/health") ? "" : `, ratio to /health${own ? " (own client)" : ""} ${(r.rps / reference.rps).toFixed(3)}`;
    console.log(`${name.padEnd(26)} ${String(r.rps).padStart(6)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}${ratio}`);
  }
  const met = results["similar, 8 sources"]!.p99 <= 10;
  console.log(`target (similar loops p99 ≤ 10 ms, cached path): ${met ? "met" : "NOT met"}; uncached p99 ${results["similar, uncached"]!.p99} ms`);
  console.log(`server peak RSS: ${(peak / 2 ** 20).toFixed(0)} MiB`);
} finally {
  await server.stop();
  if (keep) console.log(`kept ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}

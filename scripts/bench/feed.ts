// Feed requests per second and p99 latency on a realistic community (10,000 users, 100,000 ready posts, 200,000
// follows skewed toward popular producers, 500,000 reactions), next to GET /health on the same server in the same
// run (the ratio is what to compare across machines). The community is seeded into a fresh DATA_DIR
// (test/support/community.ts), then the server starts on it as a process and autocannon (Node, its own process)
// loads each path at 50 connections: /health, the timeline of a producer following 200 others (signed in through
// POST /auth/login), the global feed, trending; then the timeline again while 100 writes a second go on.
// Last, the timeline and global feed of the same producer once they mute 5 and block 5 of the producers on their
// timeline's first page (README "Blocking and muting": the cached pages are filtered per viewer).
// Usage: bun scripts/bench/feed.ts [seconds] [--keep]   (--keep leaves the seeded DATA_DIR for inspection;
// FEED_BENCH_SCALE=0.01 seeds a hundredth of the community, for a quick check that the bench runs)
import { ne, sql } from "drizzle-orm";
import { rmSync } from "node:fs";
import { load, machine, peakRss, seedBenchCommunity, signIn, startSidechain, type Load } from "./lib.ts";
import { loadConfig } from "../../src/config.ts";
import { buildDeps } from "../../src/index.ts";
import { createSession } from "../../src/auth/sessions.ts";
import { users } from "../../src/db/schema.ts";
import { TRENDING, globalFeed, rankedFeed, timelineFeed } from "../../src/social/feeds.ts";

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const keep = process.argv.includes("--keep");
const connections = 50;
const WRITES_PER_S = 100;
const WRITERS = 50;
const password = "correct horse battery staple";

const scale = Number(process.env.FEED_BENCH_SCALE ?? 1);
const { dataDir, seeded } = await seedBenchCommunity("feed", { password, scale });
// Sessions for the producers who write during the "under writes" run (each is held to the per-user reaction limit,
// so the writes are spread over many accounts), minted in process: logins would run into the per-IP auth limit.
const minting = await buildDeps(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "warn" }));
const writerIds = await minting.database.db.select({ id: users.id }).from(users).where(ne(users.id, seeded.benchUser.id)).limit(WRITERS);
const writerAuth = await Promise.all(
  writerIds.map(async ({ id }) => ({ authorization: `Bearer ${(await createSession(minting, id, { userAgent: "bench writer" })).token}` })),
);
await minting.database.close();

const server = await startSidechain({ DATA_DIR: dataDir });
try {
  const auth = await signIn(server.url, seeded.benchUser.email, password);

  const paths: { name: string; path: string; headers?: Record<string, string> }[] = [
    { name: "/health", path: "/health" },
    { name: "/api/v1/feed/timeline", path: "/api/v1/feed/timeline", headers: auth },
    { name: "/api/v1/feed/global", path: "/api/v1/feed/global" },
    { name: "/api/v1/feed/trending", path: "/api/v1/feed/trending" },
  ];
  // Each answer is a full 20-post page before anything is measured (a fast error page would flatter the figures).
  for (const p of paths.slice(1)) {
    const res = await fetch(server.url + p.path, { headers: p.headers });
    const body = (await res.json()) as { posts?: unknown[] };
    if (res.status !== 200 || body.posts?.length !== 20) throw new Error(`${p.path}: ${res.status}, ${body.posts?.length} posts`);
  }

  const results: Record<string, Load> = {};
  for (const p of paths) {
    await load(server.url + p.path, { connections, seconds: 2, headers: p.headers }); // warm-up
    results[p.name] = await load(server.url + p.path, { connections, seconds, headers: p.headers });
  }
  // The runs above repeat pages while nothing is written, so on bun:sqlite they are served from the exact read
  // caches (src/db/read-cache.ts). A live community writes: the timeline again while other producers change their
  // reaction on a post of that timeline, WRITES_PER_S times a second through the API (each a real write that empties
  // every cache, so the next request builds its page, the session check and the viewer's fields again).
  const writes: { sent: number; failed: number; firstError?: string } = { sent: 0, failed: 0 };
  const target = ((await (await fetch(`${server.url}/api/v1/feed/timeline`, { headers: auth })).json()) as { posts: { id: string }[] }).posts[0]!.id;
  const writer = setInterval(() => {
    const n = writes.sent++;
    const headers = { ...writerAuth[n % WRITERS]!, "content-type": "application/json" };
    const emoji = Math.floor(n / WRITERS) % 2 ? "🔥" : "💯"; // each writer flips between two: every request writes
    fetch(`${server.url}/api/v1/posts/${target}/reaction`, { method: "PUT", headers, body: JSON.stringify({ emoji }) })
      .then(async (r) => {
        if (r.ok) return;
        writes.failed++;
        writes.firstError ??= `${r.status} ${(await r.text()).slice(0, 200)}`;
      })
      .catch((err) => {
        writes.failed++;
        writes.firstError ??= String(err);
      });
  }, 1000 / WRITES_PER_S);
  const underWrites = await load(`${server.url}/api/v1/feed/timeline`, { connections, seconds, headers: auth });
  clearInterval(writer);
  // The bench producer mutes 5 and blocks 5 of the producers on their timeline's first page; the same pages again,
  // against the global feed signed in (the anonymous one above is served from its cached JSON, a different path).
  const hiding: Record<string, Load> = {};
  const signedInGlobal = `${server.url}/api/v1/feed/global`;
  await load(signedInGlobal, { connections, seconds: 2, headers: auth }); // warm-up
  hiding["global, signed in"] = await load(signedInGlobal, { connections, seconds, headers: auth });
  const shown = ((await (await fetch(`${server.url}/api/v1/feed/timeline?limit=100`, { headers: auth })).json()) as { posts: { user_id: string }[] }).posts;
  const authors = [...new Set(shown.map((p) => p.user_id))].filter((id) => id !== seeded.benchUser.id).slice(0, 10);
  for (const [i, id] of authors.entries()) {
    const res = await fetch(`${server.url}/api/v1/social/${i % 2 ? "block" : "mute"}`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ target_user_id: id }),
    });
    if (res.status !== 201) throw new Error(`hiding ${id}: ${res.status} ${await res.text()}`);
  }
  for (const name of ["timeline", "global"]) {
    const url = `${server.url}/api/v1/feed/${name}`;
    await load(url, { connections, seconds: 2, headers: auth }); // warm-up
    hiding[`${name}, hiding ${authors.length}`] = await load(url, { connections, seconds, headers: auth });
  }
  const peak = await peakRss(server.proc.pid);
  const health = results["/health"]!;
  console.log(`machine: ${machine()}; ${connections} connections, ${seconds} s each; bun:sqlite; scale ${scale}`);
  for (const [name, r] of Object.entries(results)) {
    const ratio = name === "/health" ? "" : `, ratio to /health ${(r.rps / health.rps).toFixed(3)}`;
    console.log(`${name.padEnd(24)} ${String(r.rps).padStart(6)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}${ratio}`);
  }
  const w = underWrites;
  console.log(
    `${"timeline under writes".padEnd(24)} ${String(w.rps).padStart(6)} req/s, p50 ${w.p50} ms, p99 ${w.p99} ms, errors ${w.errors}, non-2xx ${w.non2xx}, ratio to /health ${(w.rps / health.rps).toFixed(3)}; ${writes.sent} reaction changes (${(writes.sent / seconds).toFixed(0)}/s), ${writes.failed} failed${writes.firstError ? ` (first: ${writes.firstError})` : ""}`,
  );
  for (const [name, r] of Object.entries(hiding)) {
    console.log(
      `${name.padEnd(24)} ${String(r.rps).padStart(6)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}, ratio to /health ${(r.rps / health.rps).toFixed(3)}`,
    );
  }
  console.log(`server peak RSS: ${(peak / 2 ** 20).toFixed(0)} MiB`);
  await server.stop();

  // The load above repeats one page while nothing is written, so on bun:sqlite it is served from the exact page
  // cache (src/db/read-cache.ts). What a page costs when it must be built (any write empties the cache): the
  // feed functions in this process on the same data, a write before each call, the call alone timed.
  const deps = await buildDeps(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "warn" }));
  let t = performance.now();
  await rankedFeed(deps, null, { limit: 20, offset: 0 }, { excludeFollowed: false }); // computes the ranking
  const rankingMs = performance.now() - t;
  const touch = () => deps.database.db.run(sql`UPDATE meta SET updated_at = updated_at WHERE key = 'installation_id'`);
  const page = { limit: 20, offset: 0 };
  const builds: [string, () => Promise<unknown>][] = [
    ["timeline", () => timelineFeed(deps, seeded.benchUser.id, page)],
    ["global", () => globalFeed(deps, null, page)],
    ["trending", () => rankedFeed(deps, null, page, { excludeFollowed: false })],
  ];
  const built: string[] = [];
  for (const [name, fn] of builds) {
    let total = 0;
    for (let i = 0; i < 220; i++) {
      await touch();
      t = performance.now();
      await fn();
      if (i >= 20) total += performance.now() - t;
    }
    built.push(`${name} ${((total / 200) * 1000).toFixed(0)} µs`);
  }
  await deps.database.close();
  console.log(
    `uncached page build (in process, after a write): ${built.join(", ")}; trending ranking recomputed (at most every ${TRENDING.cacheMs / 1000} s): ${rankingMs.toFixed(1)} ms`,
  );
} finally {
  if (server.proc.exitCode === null) await server.stop();
  if (keep) console.log(`data dir kept: ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0); // the in-process deps (job queue, presence store) hold no work worth waiting for

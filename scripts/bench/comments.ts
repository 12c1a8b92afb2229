// A loop's comment page, requests per second and p99 latency, on the feed bench's seeded community (10,000 users,
// 100,000 ready loops) with 40 loops carrying 50 top-level comments each (by different producers, a tenth of them
// pinned to a moment) and 3 replies under each of the first 10, next to GET /health on the same server in the same
// run, at 50 connections: the plugin's GET /posts/{id}/comments?limit=50 signed out and signed in (the viewer's
// likes and blocks), the same spread over the 40 loops, and the web app's loop page with its comments section
// (signed out the page cache answers it; signed in it is rendered for every request). Comment pages are not cached:
// every request runs the page's statements (the page, its replies, the viewer's likes, the total).
// Target (issue #15): a loop's comment page (50 comments) ≥ 0.25 × /health req/s.
// Usage: bun scripts/bench/comments.ts [seconds] [--keep]   (COMMENTS_BENCH_SCALE=0.01 seeds a hundredth of the
// community, for a quick check that the bench runs)
import { rmSync } from "node:fs";
import { sql } from "drizzle-orm";
import { openDatabase } from "../../src/db/client.ts";
import { CSRF_COOKIE } from "../../src/web/layout.ts";
import { load, loadPaths, peakRss, printRatios, seedBenchCommunity, signIn, startSidechain, type Load } from "./lib.ts";

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const keep = process.argv.includes("--keep");
const connections = 50;
const password = "correct horse battery staple";
const LOOPS = 40;
const PER_LOOP = 50;

const scale = Number(process.env.COMMENTS_BENCH_SCALE ?? 1);
const { dataDir, seeded } = await seedBenchCommunity("comments", { password, scale });

// The comments, written straight into the database with their counts exact (as the service keeps them).
const database = openDatabase({ DATA_DIR: dataDir, DATABASE_URL: undefined, DATABASE_AUTH_TOKEN: undefined, DB_BUSY_TIMEOUT_MS: 5000 });
const loops = (await database.db.all<{ id: string }>(sql`SELECT id FROM posts WHERE status = 'ready' ORDER BY created_at DESC LIMIT ${LOOPS}`)).map(
  (r) => r.id,
);
const commenters = (await database.db.all<{ id: string }>(sql`SELECT id FROM users ORDER BY id LIMIT 200`)).map((r) => r.id);
const now = Date.now();
let n = 0;
await database.tx(async (tx) => {
  for (const loop of loops) {
    for (let i = 0; i < PER_LOOP; i++) {
      const id = Bun.randomUUIDv7();
      const at = i % 10 === 0 ? (i * 97) % 8000 : null;
      await tx.run(sql`INSERT INTO comments (id, post_id, user_id, parent_id, content, at_ms, created_at)
        VALUES (${id}, ${loop}, ${commenters[n++ % commenters.length]}, NULL, ${`That part at bar ${i % 8} 🔥 — comment ${i}`}, ${at}, ${now + i})`);
      if (i < 10)
        for (let r = 0; r < 3; r++)
          await tx.run(sql`INSERT INTO comments (id, post_id, user_id, parent_id, content, created_at)
            VALUES (${Bun.randomUUIDv7()}, ${loop}, ${commenters[n++ % commenters.length]}, ${id}, ${`reply ${r}`}, ${now + 100 + r})`);
    }
  }
  await tx.run(sql`UPDATE comments SET reply_count = (SELECT count(*) FROM comments r WHERE r.parent_id = comments.id) WHERE parent_id IS NULL`);
  await tx.run(sql`UPDATE posts SET comment_count = (SELECT count(*) FROM comments c WHERE c.post_id = posts.id)
    WHERE id IN (SELECT DISTINCT post_id FROM comments)`);
});
await database.close();
console.log(`seeded ${n} comments on ${loops.length} loops`);

const server = await startSidechain({ DATA_DIR: dataDir });
try {
  const auth = await signIn(server.url, seeded.benchUser.email, password);
  const json = { "content-type": "application/json" };
  const one = `/api/v1/posts/${loops[0]}/comments?limit=50`;
  const spread = loops.map((id) => `/api/v1/posts/${id}/comments?limit=50`);
  // The web app's signed-in page needs the browser session's cookie: sign in through the form.
  const signin = await fetch(`${server.url}/signin`);
  const csrfCookie = (signin.headers.getSetCookie().find((c) => c.startsWith(`${CSRF_COOKIE}=`)) ?? "").split(";")[0]!;
  const token = /name="csrf" value="([^"]+)"/.exec(await signin.text())?.[1] ?? "";
  const form = await fetch(`${server.url}/signin`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: csrfCookie, origin: server.url },
    body: new URLSearchParams({ csrf: token, login: seeded.benchUser.username, password }).toString(),
  });
  const cookie = [csrfCookie, ...form.headers.getSetCookie().map((c) => c.split(";")[0]!)].join("; ");

  const runs: { name: string; paths: string[]; headers: Record<string, string>; check: (body: string) => boolean }[] = [
    { name: "/health", paths: ["/health"], headers: {}, check: () => true },
    { name: "comments, one loop", paths: [one], headers: json, check: (b) => JSON.parse(b).comments.length === PER_LOOP },
    { name: "the same, signed in", paths: [one], headers: { ...json, ...auth }, check: (b) => JSON.parse(b).comments.length === PER_LOOP },
    { name: "40 loops, signed in", paths: spread, headers: { ...json, ...auth }, check: (b) => JSON.parse(b).comments.length === PER_LOOP },
    { name: "loop page, signed out", paths: [`/l/${loops[0]}`], headers: {}, check: (b) => (b.match(/class="comment"/g) ?? []).length >= PER_LOOP },
    { name: "loop page, signed in", paths: [`/l/${loops[0]}`], headers: { cookie }, check: (b) => b.includes("Your comment") },
  ];
  // Each answer holds what it should before anything is measured (a fast error page would flatter the figures).
  for (const r of runs) {
    const res = await fetch(server.url + r.paths[0]!, { headers: r.headers });
    const body = await res.text();
    if (res.status !== 200 || !r.check(body)) throw new Error(`${r.name} (${r.paths[0]}): ${res.status} ${body.slice(0, 300)}`);
  }
  const results: Record<string, Load> = {};
  for (const r of runs) {
    const measure = (s: number) =>
      r.paths.length === 1
        ? load(server.url + r.paths[0], { connections, seconds: s, headers: r.headers })
        : loadPaths(server.url, r.paths, { connections, seconds: s, headers: r.headers });
    await measure(2); // warm-up
    results[r.name] = await measure(seconds);
  }
  const peak = await peakRss(server.proc.pid);
  const health = printRatios(results, { connections, seconds, scale });
  for (const name of ["comments, one loop", "40 loops, signed in"]) {
    const met = results[name]!.rps >= 0.25 * health.rps;
    console.log(`target (${name}: ≥ 0.25 × /health): ${met ? "met" : "NOT met"}`);
  }
  console.log(`server peak RSS: ${(peak / 2 ** 20).toFixed(0)} MiB`);
} finally {
  await server.stop();
  if (keep) console.log(`kept ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}

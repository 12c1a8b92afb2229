// The Stream.io backfill's rate (README "Stream.io mirror"): objects per second sent to the Stream stand-in
// (test/support/stream-server.ts, on its own thread) by `runBackfill` (src/integrations/stream-backfill.ts) on the
// feed bench's seeded community, next to a baseline in the same run: the same kinds of objects sent the way a naive
// backfill would, one `stream-mirror` job per object through the job queue (4 workers, as configured), in the same
// order (accounts, then loops, follows, reactions) so no job waits on a prerequisite. Each run gets a fresh
// stand-in; after each, what the stand-in holds is checked against the database.
// Usage: bun scripts/bench/stream-backfill.ts [--keep]   (STREAM_BENCH_SCALE, default 0.1 = 1,000 users, 10,000
// loops, 20,000 follows, 50,000 reactions; STREAM_BENCH_SAMPLE objects of each kind for the baseline, default 1,000)
import { rmSync } from "node:fs";
import { sql } from "drizzle-orm";
import { loadConfig } from "../../src/config.ts";
import type { Deps } from "../../src/deps.ts";
import { buildDeps } from "../../src/index.ts";
import { type MirrorObject, mirrorChange, registerStreamMirror, STREAM_MIRROR, streamClient } from "../../src/integrations/stream.ts";
import { BACKFILL_PHASES, currentBackfill, runBackfill } from "../../src/integrations/stream-backfill.ts";
import { machine, seedBenchCommunity } from "./lib.ts";

const keep = process.argv.includes("--keep");
const scale = Number(process.env.STREAM_BENCH_SCALE ?? 0.1);
const sample = Number(process.env.STREAM_BENCH_SAMPLE ?? 1000);
const KEY = "bench-key";
const SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz";

type Counts = { users: number; named: number; feeds: number; activities: number; follows: number; reactions: number; calls: number; failed: number };
async function standIn() {
  const worker = new Worker(new URL("./stream-standin.ts", import.meta.url), { env: { ...process.env, BENCH_STREAM_KEY: KEY, BENCH_STREAM_SECRET: SECRET } });
  const next = () => new Promise<any>((resolve) => worker.addEventListener("message", (e) => resolve(e.data), { once: true }));
  const { url } = await next();
  return {
    url: url as string,
    counts: async () => (worker.postMessage("counts"), (await next()) as Counts),
    stop: async () => (worker.postMessage("stop"), await next(), worker.terminate()),
  };
}

async function depsFor(dataDir: string, url: string) {
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "warn", STREAM_API_KEY: KEY, STREAM_API_SECRET: SECRET, STREAM_BASE_URL: url, JOB_POLL_MS: "10" });
  return buildDeps(config);
}

/** What Stream should hold, counted in the database. */
async function expected(deps: Deps) {
  const one = async (q: ReturnType<typeof sql>) => Number((await deps.database.db.all<{ n: number }>(q))[0]!.n);
  const users = await one(sql`SELECT count(*) AS n FROM users WHERE approval = 'approved'`);
  return {
    users,
    feeds: 2 * users,
    activities: await one(sql`SELECT count(*) AS n FROM posts WHERE status = 'ready'`),
    follows: await one(sql`SELECT count(*) AS n FROM follows`),
    reactions: await one(sql`SELECT count(*) AS n FROM reactions r JOIN posts p ON p.id = r.post_id AND p.status = 'ready'`),
  };
}

const { dataDir } = await seedBenchCommunity("stream", { password: "correct horse battery staple", scale });
try {
  // The backfill.
  let stand = await standIn();
  let deps = await depsFor(dataDir, stand.url);
  const want = await expected(deps);
  const objects = want.users + want.activities + want.follows + want.reactions;
  await currentBackfill(deps, { restart: true });
  const t0 = performance.now();
  const phaseS: Record<string, number> = {};
  let mark = t0;
  const done = await runBackfill(deps, streamClient(deps.config)!, {
    onProgress: (st) => {
      const now = performance.now();
      const phase = st.phase === "done" ? "reactions" : st.phase;
      phaseS[phase] = (phaseS[phase] ?? 0) + (now - mark) / 1000;
      mark = now;
    },
  });
  const backfillS = (performance.now() - t0) / 1000;
  const got = await stand.counts();
  for (const k of ["users", "feeds", "activities", "follows", "reactions"] as const)
    if (got[k] !== want[k]) throw new Error(`the stand-in holds ${got[k]} ${k}, the database says ${want[k]}`);
  const backfillRate = objects / backfillS;
  console.log(`machine: ${machine()}; scale ${scale}: ${BACKFILL_PHASES.map((p) => `${done.sent[p].toLocaleString("en")} ${p}`).join(", ")}`);
  console.log(
    `backfill                ${objects.toLocaleString("en")} objects in ${backfillS.toFixed(1)} s: ${Math.round(backfillRate).toLocaleString("en")} objects/s, ${got.calls.toLocaleString("en")} calls`,
  );
  console.log(`  by phase: ${BACKFILL_PHASES.map((p) => `${p} ${Math.round(done.sent[p] / (phaseS[p] ?? 1)).toLocaleString("en")} objects/s`).join(", ")}`);
  await deps.close();
  await stand.stop();

  // The baseline: one mirror job per object, a sample of each kind in the backfill's order.
  stand = await standIn();
  deps = await depsFor(dataDir, stand.url);
  registerStreamMirror(deps);
  await deps.jobs.start();
  const db = deps.database.db;
  const kinds: [string, () => Promise<MirrorObject[]>][] = [
    [
      "accounts",
      async () =>
        (await db.all<{ id: string }>(sql`SELECT id FROM users WHERE approval = 'approved' ORDER BY id LIMIT ${sample}`)).map((u) => ({
          kind: "account",
          userId: u.id,
        })),
    ],
    [
      "loops",
      async () =>
        (await db.all<{ id: string; user_id: string }>(sql`SELECT id, user_id FROM posts WHERE status = 'ready' ORDER BY id LIMIT ${sample}`)).map((p) => ({
          kind: "post",
          postId: p.id,
          userId: p.user_id,
        })),
    ],
    [
      "follows",
      async () =>
        (await db.all<{ a: string; b: string }>(sql`SELECT follower_id AS a, followee_id AS b FROM follows ORDER BY 1, 2 LIMIT ${sample}`)).map((f) => ({
          kind: "follow",
          followerId: f.a,
          followeeId: f.b,
        })),
    ],
    [
      "reactions",
      async () =>
        (
          await db.all<{ u: string; p: string }>(
            sql`SELECT r.user_id AS u, r.post_id AS p FROM reactions r JOIN posts p ON p.id = r.post_id AND p.status = 'ready' ORDER BY 1, 2 LIMIT ${sample}`,
          )
        ).map((r) => ({ kind: "reaction", userId: r.u, postId: r.p })),
    ],
  ];
  let jobsDone = 0;
  let jobsS = 0;
  for (const [name, list] of kinds) {
    const objs = await list();
    const t = performance.now();
    for (const o of objs) await mirrorChange(deps, null, o);
    for (;;) {
      const [left] = await db.all<{ n: number }>(sql`SELECT count(*) AS n FROM jobs WHERE type = ${STREAM_MIRROR} AND status IN ('queued', 'running')`);
      if (Number(left!.n) === 0) break;
      await Bun.sleep(5);
    }
    const s = (performance.now() - t) / 1000;
    jobsDone += objs.length;
    jobsS += s;
    console.log(`  one job per object: ${objs.length} ${name} in ${s.toFixed(1)} s, ${Math.round(objs.length / s)} objects/s`);
  }
  const failed = await db.all<{ n: number }>(sql`SELECT count(*) AS n FROM jobs WHERE type = ${STREAM_MIRROR} AND status = 'failed'`);
  if (Number(failed[0]!.n)) throw new Error(`${failed[0]!.n} mirror jobs failed`);
  const jobsRate = jobsDone / jobsS;
  console.log(
    `one job per object      ${jobsDone.toLocaleString("en")} objects in ${jobsS.toFixed(1)} s: ${Math.round(jobsRate).toLocaleString("en")} objects/s`,
  );
  console.log(`ratio: the backfill sends ${(backfillRate / jobsRate).toFixed(1)}× as many objects a second as one job per object`);
  await deps.jobs.stop();
  await deps.close();
  await stand.stop();
} finally {
  if (!keep) rmSync(dataDir, { recursive: true, force: true });
  else console.log(`kept ${dataDir}`);
}

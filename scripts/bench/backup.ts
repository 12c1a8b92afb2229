// A backup of the seeded community (10,000 users, 100,000 posts, 200,000 follows, 500,000 reactions; the feed
// bench's, test/support/community.ts) taken while the feed bench's timeline load runs, against the same load without
// a backup: the timeline's p99 with and without (target: at most 2×), and the backup's own duration. The server runs
// as a process on the seeded DATA_DIR; `bun src/index.ts backup create` runs as the operator would run it, back to back
// for the whole loaded window (each later one links the media of the one before), so every request of the window is
// served beside a backup. autocannon runs in Node, in its own process.
// Usage: bun scripts/bench/backup.ts [seconds]    BENCH_SCALE=0.01 seeds a hundredth of the community (a quick check)
import { rmSync } from "node:fs";
import { join } from "node:path";
import { load, machine, ROOT, seedBenchCommunity, startSidechain } from "./lib.ts";

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const scale = Number(process.env.BENCH_SCALE ?? 1);
const connections = 50;
const password = "correct horse battery staple";

const { dataDir, seeded } = await seedBenchCommunity("backup", { scale, password });
const root = join(dataDir, "backups");

/** One `sidechain backup create` as a process; its duration and size from its --json summary. */
async function backupOnce(): Promise<{ ms: number; bytes: number }> {
  const proc = Bun.spawn([process.execPath, "src/index.ts", "backup", "create", root, "--keep", "2", "--json"], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`backup create exited with ${code}: ${err}`);
  const summary = JSON.parse(out.trim().split("\n").at(-1)!) as { durationMs: number; bytes: number };
  return { ms: summary.durationMs, bytes: summary.bytes };
}

const server = await startSidechain({ DATA_DIR: dataDir });
try {
  const login = await fetch(`${server.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: seeded.benchUser.email, password }),
  });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${await login.text()}`);
  const auth = { authorization: `Bearer ${((await login.json()) as { auth: { token: string } }).auth.token}` };
  const timeline = `${server.url}/api/v1/feed/timeline`;
  const first = (await (await fetch(timeline, { headers: auth })).json()) as { posts?: unknown[] };
  if (!first.posts?.length) throw new Error("the timeline is empty");

  // The backup alone first: its duration on an idle server.
  const alone = await backupOnce();
  await load(timeline, { connections, seconds: 2, headers: auth }); // warm-up
  const without = await load(timeline, { connections, seconds, headers: auth });
  // The same load with backups running back to back for the whole window.
  let loading = true;
  const during: { ms: number; bytes: number }[] = [];
  const backups = (async () => {
    while (loading) during.push(await backupOnce());
  })();
  const withBackup = await load(timeline, { connections, seconds, headers: auth });
  loading = false;
  await backups;

  console.log(`machine: ${machine()}; ${connections} connections, ${seconds} s each; bun:sqlite; scale ${scale}`);
  const line = (name: string, r: typeof without) =>
    `${name.padEnd(28)} ${String(r.rps).padStart(6)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}`;
  console.log(line("timeline, no backup", without));
  console.log(line("timeline, backup running", withBackup));
  console.log(`timeline p99 ratio (backup / none): ${(withBackup.p99 / Math.max(without.p99, 0.001)).toFixed(2)} (target ≤ 2)`);
  const mb = (b: number) => (b / 1e6).toFixed(1);
  console.log(`backup on an idle server: ${(alone.ms / 1000).toFixed(2)} s, ${mb(alone.bytes)} MB`);
  const avg = during.reduce((s, b) => s + b.ms, 0) / Math.max(1, during.length);
  console.log(`backups during the load: ${during.length}, ${(avg / 1000).toFixed(2)} s each on average`);
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

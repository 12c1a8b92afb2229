// Shared bench helpers: a load generator (autocannon, run by Node in its own process so it does not share the
// server's event loop) and process helpers. Benches print figures; they never assert on time.
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { sql } from "drizzle-orm";
import { openDatabase } from "../../src/db/client.ts";
import { applyMigrations } from "../../src/db/migrate.ts";
import { DEFAULT_SEED, seedCommunity } from "../../test/support/community.ts";
import { freePort, waitFor } from "../../test/support/net.ts";

export const ROOT = join(import.meta.dir, "../..");

export type Load = { rps: number; p50: number; p99: number; errors: number; non2xx: number; requests: number };

/** Runs autocannon against `url` and returns requests/s and latency percentiles (ms). */
export async function load(
  url: string,
  opts: { connections?: number; seconds?: number; headers?: Record<string, string>; method?: string; body?: string } = {},
): Promise<Load> {
  const args = [join(ROOT, "node_modules/autocannon/autocannon.js"), "-j", "-c", String(opts.connections ?? 50), "-d", String(opts.seconds ?? 10)];
  if (opts.method) args.push("-m", opts.method);
  if (opts.body) args.push("-b", opts.body);
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push("-H", `${k}=${v}`);
  args.push(url);
  const proc = Bun.spawn(["node", ...args], { stdout: "pipe", stderr: "ignore" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  return toLoad(out);
}

/** autocannon's JSON result as the figures the benches print. */
function toLoad(json: string): Load {
  const r = JSON.parse(json);
  return { rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx, requests: r.requests.total };
}

/**
 * Like `load`, but each request takes the next of `paths` (round robin, each connection starting at its own place),
 * so a cache keyed by the request sees as many different requests as there are paths. autocannon's command line
 * has no such option; its API's setupRequest does, so this runs the API in a Node process of its own.
 */
export async function loadPaths(
  base: string,
  paths: string[],
  opts: { connections?: number; seconds?: number; headers?: Record<string, string> } = {},
): Promise<Load> {
  const script = `
const autocannon = require(${JSON.stringify(join(ROOT, "node_modules/autocannon"))});
const { base, paths, connections, seconds, headers } = JSON.parse(require("node:fs").readFileSync(process.env.LOAD_PATHS, "utf8"));
let next = 0;
autocannon({ url: base, connections, duration: seconds, headers,
  requests: [{ setupRequest: (req) => ({ ...req, path: paths[next++ % paths.length] }) }] }, (err, r) => {
  if (err) throw err;
  process.stdout.write(JSON.stringify(r));
});`;
  const file = join(mkdtempSync(join(tmpdir(), "sc-load-")), "paths.json"); // (too big for an environment variable)
  await Bun.write(file, JSON.stringify({ base, paths, connections: opts.connections ?? 50, seconds: opts.seconds ?? 10, headers: opts.headers }));
  const proc = Bun.spawn(["node", "-e", script], { stdout: "pipe", stderr: "inherit", env: { ...process.env, LOAD_PATHS: file } });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  rmSync(dirname(file), { recursive: true, force: true });
  return toLoad(out);
}

/** Prints the machine and each run's figures, with its ratio to the "/health" run of the same results. */
export function printRatios(results: Record<string, Load>, run: { connections: number; seconds: number; scale: number }) {
  const health = results["/health"]!;
  console.log(`machine: ${machine()}; ${run.connections} connections, ${run.seconds} s each; bun:sqlite; scale ${run.scale}`);
  for (const [name, r] of Object.entries(results)) {
    const ratio = name === "/health" ? "" : `, ratio to /health ${(r.rps / health.rps).toFixed(3)}`;
    console.log(`${name.padEnd(26)} ${String(r.rps).padStart(6)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}${ratio}`);
  }
  return health;
}

export type Proc = { url: string; proc: ReturnType<typeof Bun.spawn>; stop(): Promise<void> };

/** Starts `cmd` (or the command made for the port) with PORT set to a free port and waits until `readyPath` answers. */
export async function startProcess(cmd: string[] | ((port: number) => string[]), env: Record<string, string> = {}, readyPath = "/health"): Promise<Proc> {
  const port = await freePort();
  const proc = Bun.spawn(typeof cmd === "function" ? cmd(port) : cmd, {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), ...env },
    stdout: "ignore",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => (await fetch(url + readyPath)).ok,
    20_000,
    () => proc.exitCode !== null,
  );
  return {
    url,
    proc,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

/** Starts the Sidechain server from source on a fresh DATA_DIR (or the one given). */
export function startSidechain(env: Record<string, string> = {}) {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), "sc-bench-"));
  return startProcess([process.execPath, "src/index.ts"], { DATA_DIR: dataDir, ...env }, "/readyz");
}

/** Signs in through the API (POST /api/v1/auth/login) and returns the Authorization header of the session. */
export async function signIn(url: string, email: string, password: string): Promise<{ authorization: string }> {
  const login = await fetch(`${url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${await login.text()}`);
  return { authorization: `Bearer ${((await login.json()) as { auth: { token: string } }).auth.token}` };
}

export function machine(): string {
  return `${cpus().length} cores (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}`;
}

/** Peak resident memory of a process in bytes, read from /proc (Linux). */
export async function peakRss(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}

/** Resident memory of a process now in bytes, read from /proc (Linux). */
export async function rssNow(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** Samples a process's RSS every `everyMs` until stopped; returns the highest value seen. */
export function sampleRss(pid: number | undefined, everyMs = 20) {
  let peak = 0;
  let running = true;
  const done = (async () => {
    while (running && pid) {
      peak = Math.max(peak, await rssNow(pid).catch(() => 0));
      await Bun.sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return peak;
    },
  };
}

/**
 * Resets a process's peak RSS (VmHWM) to its current RSS (`clear_refs` 5, Linux 4.0+), so peakRss afterwards is
 * the peak of what follows. False when the kernel or permissions refuse it.
 */
export async function resetPeakRss(pid: number): Promise<boolean> {
  try {
    await Bun.write(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * The benches' community (test/support/community.ts DEFAULT_SEED, every count times `scale`, at most 1) seeded into
 * a fresh DATA_DIR, with `password` as the bench user's. Prints what it seeded; the database is closed again, so a
 * server process can open the directory.
 */
export async function seedBenchCommunity(name: string, opts: { scale?: number; password: string }) {
  const scale = opts.scale ?? 1;
  if (!(scale > 0 && scale <= 1)) throw new Error(`the bench's scale must be in (0, 1], not ${scale}`);
  const sized = (n: number) => Math.max(1, Math.round(n * scale));
  const users = sized(DEFAULT_SEED.users);
  const dataDir = mkdtempSync(join(tmpdir(), `sc-bench-${name}-`));
  const database = openDatabase({ DATA_DIR: dataDir, DATABASE_URL: undefined, DATABASE_AUTH_TOKEN: undefined, DB_BUSY_TIMEOUT_MS: 5000 });
  await applyMigrations(database);
  await database.db.run(sql.raw("PRAGMA cache_size = -1000000")); // the seed writes the reactions and follows indexes in random order
  const seeded = await seedCommunity(database, {
    ...DEFAULT_SEED,
    users,
    posts: sized(DEFAULT_SEED.posts),
    // The seed draws distinct pairs: a small community has fewer of them than the scaled count.
    follows: Math.min(sized(DEFAULT_SEED.follows), Math.floor((users * (users - 1)) / 4)),
    reactions: sized(DEFAULT_SEED.reactions),
    benchFollows: Math.min(DEFAULT_SEED.benchFollows, users - 1),
    now: Date.now(),
    benchPasswordHash: await Bun.password.hash(opts.password, { algorithm: "argon2id" }),
  });
  await database.close();
  console.log(
    `seeded ${Object.entries(seeded.counts)
      .map(([k, v]) => `${v.toLocaleString("en")} ${k}`)
      .join(", ")} in ${seeded.seconds.toFixed(1)} s`,
  );
  return { dataDir, seeded };
}

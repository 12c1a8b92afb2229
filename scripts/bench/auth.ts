// Logins per second and the server's peak memory under 50 concurrent logins. Baseline in the same run: the bare
// argon2id verifies (Bun.password, same parameters, same concurrency limit) that a login costs, without HTTP or
// database. The hashing limit must keep memory bounded: each argon2id verify holds 64 MiB while it runs.
// Usage: bun scripts/bench/auth.ts [seconds]
import { cpus } from "node:os";
import { load, machine, peakRss, startSidechain } from "./lib.ts";

const seconds = Number(process.argv[2] ?? 10);
const connections = 50;
const password = "correct horse battery staple";

// Baseline: verifies/s with the same concurrency limit the server uses (one per core by default).
const limit = cpus().length;
const hash = await Bun.password.hash(password, { algorithm: "argon2id" });
let done = 0;
const end = performance.now() + seconds * 1000;
await Promise.all(
  Array.from({ length: limit }, async () => {
    while (performance.now() < end) {
      await Bun.password.verify(password, hash, "argon2id");
      done++;
    }
  }),
);
const baseline = done / seconds;

const server = await startSidechain({ RATE_LIMIT_AUTH_PER_MIN: "100000000", LOG_LEVEL: "warn" });
const res = await fetch(`${server.url}/api/v1/auth/register`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ email: "bench@example.com", username: "bench_user", password }),
});
if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
const idleRss = await peakRss(server.proc.pid);
const result = await load(`${server.url}/api/v1/auth/login`, {
  connections,
  seconds,
  method: "POST",
  body: JSON.stringify({ email: "bench@example.com", password }),
  headers: { "content-type": "application/json" },
});
const peak = await peakRss(server.proc.pid);
await server.stop();

console.log(`machine: ${machine()}; ${connections} concurrent logins for ${seconds} s`);
console.log(`bare argon2id verify (${limit} at a time): ${baseline.toFixed(1)} verifies/s`);
console.log(`POST /api/v1/auth/login: ${result.rps} logins/s, p50 ${result.p50} ms, p99 ${result.p99} ms, errors ${result.errors}, non-2xx ${result.non2xx}`);
console.log(`ratio logins / bare verifies: ${(result.rps / baseline).toFixed(2)}`);
console.log(`server peak RSS: ${(peak / 2 ** 20).toFixed(0)} MiB (after start: ${(idleRss / 2 ** 20).toFixed(0)} MiB)`);

// GET /health requests per second on the Sidechain server, next to a bare Bun.serve answering the same JSON in
// the same run (the ratio is what to compare across machines). Usage: bun scripts/bench/http.ts [seconds]
import { load, machine, startProcess, startSidechain } from "./lib.ts";

const seconds = Number(process.argv[2] ?? 10);
const connections = 50;

const bare = await startProcess([
  process.execPath,
  "-e",
  `Bun.serve({ port: Number(process.env.PORT), hostname: "127.0.0.1", fetch: () => Response.json({ status: "ok" }) })`,
]);
await load(`${bare.url}/health`, { connections, seconds: 2 }); // warm-up
const baseline = await load(`${bare.url}/health`, { connections, seconds });
await bare.stop();

const server = await startSidechain();
await load(`${server.url}/health`, { connections, seconds: 2 });
const health = await load(`${server.url}/health`, { connections, seconds });
await server.stop();

console.log(`machine: ${machine()}; ${connections} connections, ${seconds} s each`);
console.log(`bare Bun.serve  /health: ${baseline.rps} req/s, p99 ${baseline.p99} ms`);
console.log(`sidechain       /health: ${health.rps} req/s, p99 ${health.p99} ms, errors ${health.errors}, non-2xx ${health.non2xx}`);
console.log(`ratio sidechain / bare: ${(health.rps / baseline.rps).toFixed(2)}`);

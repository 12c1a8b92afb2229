// The relay (`sidechain relay <URL>`, src/relay/relay.ts) against the same server reached directly, in the same
// run. A server from source on a small seeded community (1,000 users, 5,000 ready posts), and the relay as its own
// process (`bun src/index.ts relay <server> --port N`), as a producer runs it:
// 1. a feed request (GET /api/v1/feed/global, a full 20-post page): latency one request at a time (what the relay
//    adds to each request the plugin makes; target ≤ 2 ms at the median), then req/s, p50 and p99 at 50
//    connections (autocannon in a Node process), direct vs through the relay;
// 2. a 50 MB upload (the plugin's largest, Constants::Api::MAX_UPLOAD_SIZE_BYTES in plugin/src/util/Constants.h:
//    a real 16-bit stereo WAV in the plugin's multipart form, sent with its Content-Length) through a fresh relay
//    process: the relay's resident memory sampled every 20 ms and its peak (VmHWM) against its RSS before the
//    upload. Streaming means flat memory: the peak should stay near the idle RSS, far below 50 MB more.
// Usage: bun scripts/bench/relay.ts [seconds]
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load, machine, peakRss, startProcess, startSidechain, type Load } from "./lib.ts";
import { lavfi } from "../../test/support/audio.ts";
import { openDatabase } from "../../src/db/client.ts";
import { applyMigrations } from "../../src/db/migrate.ts";
import { seedCommunity } from "../../test/support/community.ts";

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const connections = 50;
const FEED = "/api/v1/feed/global";

const dataDir = mkdtempSync(join(tmpdir(), "sc-bench-relay-"));
const database = openDatabase({ DATA_DIR: dataDir, DATABASE_URL: undefined, DATABASE_AUTH_TOKEN: undefined, DB_BUSY_TIMEOUT_MS: 5000 });
await applyMigrations(database);
await seedCommunity(database, {
  users: 1_000,
  posts: 5_000,
  follows: 10_000,
  reactions: 20_000,
  days: 90,
  benchFollows: 50,
  now: Date.now(),
  benchPasswordHash: await Bun.password.hash("x"),
});
await database.close();

/** The relay as its own process (it takes its port from --port, not PORT). */
const startRelayProcess = (upstream: string) => startProcess((port) => [process.execPath, "src/index.ts", "relay", upstream, "--port", String(port)]);

/** Sequential requests: the latency of one request when nothing else waits (ms). */
async function oneAtATime(url: string, n: number): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fetch(url, { headers: { "content-type": "application/json" } });
    await res.arrayBuffer();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(n * 0.5)]!, p99: times[Math.floor(n * 0.99)]! };
}

const rssNow = async (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(await Bun.file(`/proc/${pid}/status`).text())?.[1] ?? 0) * 1024;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const fmt = (l: Load) => `${l.rps.toLocaleString("en")} req/s, p50 ${l.p50} ms, p99 ${l.p99} ms (${l.errors} errors, ${l.non2xx} non-2xx)`;

const server = await startSidechain({ DATA_DIR: dataDir, LOG_LEVEL: "warn", RATE_LIMIT_AUTH_PER_MIN: "100000" });
const work = mkdtempSync(join(tmpdir(), "sc-bench-relay-wav-"));
try {
  const page = (await (await fetch(server.url + FEED)).json()) as { posts?: unknown[] };
  if (page.posts?.length !== 20) throw new Error(`${FEED}: ${page.posts?.length} posts`);
  console.log(machine());

  // 1. A feed request, direct vs through the relay.
  const relay = await startRelayProcess(server.url);
  try {
    for (const u of [server.url, relay.url]) await oneAtATime(u + FEED, 200); // warm-up
    const seqDirect = await oneAtATime(server.url + FEED, 1000);
    const seqRelay = await oneAtATime(relay.url + FEED, 1000);
    console.log(
      `one at a time, 1,000 requests: direct p50 ${seqDirect.p50.toFixed(2)} ms, p99 ${seqDirect.p99.toFixed(2)} ms; relay p50 ${seqRelay.p50.toFixed(2)} ms, p99 ${seqRelay.p99.toFixed(2)} ms; the relay adds ${(seqRelay.p50 - seqDirect.p50).toFixed(2)} ms at the median (target ≤ 2 ms)`,
    );
    await load(server.url + FEED, { connections, seconds: 2 });
    const direct = await load(server.url + FEED, { connections, seconds });
    await load(relay.url + FEED, { connections, seconds: 2 });
    const through = await load(relay.url + FEED, { connections, seconds });
    console.log(`${connections} connections, ${seconds} s: direct ${fmt(direct)}`);
    console.log(
      `${connections} connections, ${seconds} s: relay  ${fmt(through)}; ratio ${(through.rps / direct.rps).toFixed(2)}, p50 +${(through.p50 - direct.p50).toFixed(1)} ms`,
    );
    console.log(`relay process peak RSS under load: ${mib(await peakRss(relay.proc.pid))}`);
  } finally {
    await relay.stop();
  }

  // 2. A 50 MB upload through a fresh relay process.
  const login = await fetch(`${server.url}/api/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "relay.bench@example.com", username: "relay_bench", password: "correct horse battery staple" }),
  });
  const token = ((await login.json()) as { auth: { token: string } }).auth.token;
  // 50,000,000 bytes of 16-bit stereo 44.1 kHz PCM is 283 s: longer than a loop may be, so the server refuses it
  // once it has read and inspected the whole file, which is what this measures (the relay streams every byte).
  const wav = await lavfi(join(work, "big.wav"), "sine=frequency=220:sample_rate=44100:duration=283.4", ["-ac", "2", "-c:a", "pcm_s16le", "-f", "wav"]);
  const size = statSync(wav).size;
  const boundary = "----sidechainbench50mb";
  const head = new TextEncoder().encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="bpm"\r\n\r\n120\r\n--${boundary}\r\nContent-Disposition: form-data; name="audio_file"; filename="big.wav"\r\nContent-Type: audio/wav\r\nContent-Transfer-Encoding: binary\r\n\r\n`,
  );
  const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`);
  const body = () => {
    const parts: (Uint8Array | ReadableStream<Uint8Array>)[] = [head, Bun.file(wav).stream(), tail];
    return new ReadableStream<Uint8Array>({
      async pull(c) {
        const next = parts[0];
        if (!next) return c.close();
        if (next instanceof Uint8Array) {
          parts.shift();
          return c.enqueue(next);
        }
        const reader = next.getReader();
        for (let r = await reader.read(); !r.done; r = await reader.read()) c.enqueue(r.value);
        parts.shift();
      },
    });
  };
  const upload = async (base: string) => {
    const t = performance.now();
    const res = await fetch(`${base}/api/v1/audio/upload`, {
      method: "POST",
      body: body(),
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": `multipart/form-data; boundary=${boundary}`,
        "content-length": String(head.length + size + tail.length),
      },
    });
    const answer = await res.text();
    return { ms: performance.now() - t, status: res.status, answer: answer.slice(0, 160) };
  };
  const direct = await upload(server.url);
  const fresh = await startRelayProcess(server.url);
  try {
    const idle = await rssNow(fresh.proc.pid);
    let sampledMax = idle;
    const sampler = setInterval(() => void rssNow(fresh.proc.pid).then((r) => (sampledMax = Math.max(sampledMax, r))), 20);
    const through = await upload(fresh.url);
    clearInterval(sampler);
    const peak = await peakRss(fresh.proc.pid);
    console.log(
      `50 MB upload (${(size / 1e6).toFixed(1)} MB WAV): direct ${direct.ms.toFixed(0)} ms → ${direct.status}; through the relay ${through.ms.toFixed(0)} ms → ${through.status} ${through.answer}`,
    );
    console.log(
      `relay RSS: ${mib(idle)} before the upload, sampled max ${mib(sampledMax)}, peak (VmHWM) ${mib(peak)}: growth ${mib(peak - idle)} for ${(size / 2 ** 20).toFixed(1)} MiB streamed`,
    );
  } finally {
    await fresh.stop();
  }
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}

// Abuse bench (issue #10, cases 1–5): while a separate process probes GET /livez every ~10 ms, sends the requests
// that used to stall the server, all at once:
//   1. 8 concurrent ~60 MB JSON bodies to POST /api/v1/auth/login, unauthenticated (4 declare their length, 4 are
//      chunked);
//   2. JSON nested 5,000 levels deep (~10 KB) to POST /api/v1/auth/login;
//   3. a 4 s WAV followed by 20 MB of zero bytes, uploaded by a signed-in producer;
//   4. 58 MB to POST /api/v1/audio/upload/ (trailing slash), signed in;
//   5. an 8192×8192 PNG (a few hundred KB, 256 MiB decoded) as a profile picture, signed in.
// Baseline in the same run: the same probe against the idle server. Reports /livez p50/p99 idle and under attack
// (ratio), the server's RSS idle and its peak under attack, each case's answer and time. Targets: /livez p99 ≤ 50 ms
// and RSS growth ≤ 100 MB under attack. Prints figures, asserts nothing.
// Usage: bun scripts/bench/abuse.ts [idle seconds]               starts a server on a fresh DATA_DIR
//        bun scripts/bench/abuse.ts --url http://host:port [--pid <server pid>]   a running server (RSS needs the pid)
//        add --cases 1,4 to send only some of the cases (to see which one costs what)
// (internal) bun scripts/bench/abuse.ts --probe <url>             probes until stdin closes, prints JSON latencies
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createDeflate } from "node:zlib";
import { lavfi, signals } from "../../test/support/audio.ts";
import { machine, rssNow, sampleRss, startSidechain, type Proc } from "./lib.ts";

const MB = 1024 * 1024;
const PROBE_EVERY_MS = 10;

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};

// ── probe process: GET /livez every ~10 ms until stdin closes, then the latencies (ms) as JSON on stdout ──
async function probe(url: string) {
  const latencies: number[] = [];
  let failures = 0;
  let running = true;
  void (async () => {
    // The parent never writes; the stream ends when it closes stdin.
    const reader = Bun.stdin.stream().getReader();
    while (!(await reader.read()).done);
    running = false;
  })();
  while (running) {
    const start = performance.now();
    try {
      const res = await fetch(`${url}/livez`);
      await res.arrayBuffer();
      if (res.ok) latencies.push(performance.now() - start);
      else failures++;
    } catch {
      failures++;
    }
    const wait = PROBE_EVERY_MS - (performance.now() - start);
    if (wait > 0) await Bun.sleep(wait);
  }
  process.stdout.write(JSON.stringify({ latencies, failures }));
}

type ProbeResult = { latencies: number[]; failures: number };

function startProbe(url: string) {
  const proc = Bun.spawn([process.execPath, import.meta.path, "--probe", url], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  return {
    async stop(): Promise<ProbeResult> {
      proc.stdin.end();
      const out = await new Response(proc.stdout).text();
      await proc.exited;
      return JSON.parse(out);
    },
  };
}

const percentile = (values: number[], p: number) => {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const ms = (v: number) => `${v.toFixed(1)} ms`;
const mib = (bytes: number) => `${(bytes / MB).toFixed(0)} MiB`;

// ── the attack bodies ──

/** A JSON body of `size` bytes: one long string value. */
function hugeJson(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size).fill(0x61);
  bytes.set(new TextEncoder().encode('{"email":"'));
  bytes.set(new TextEncoder().encode('"}'), size - 2);
  return bytes;
}

/** The same bytes as a stream without a length (chunked transfer). */
function chunked(bytes: Uint8Array<ArrayBuffer>, chunk = 256 * 1024): ReadableStream<Uint8Array<ArrayBuffer>> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.subarray(at, at + chunk));
      at += chunk;
    },
  });
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, Bun.hash.crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** An all-black side×side RGBA PNG: tiny on disk, side²·4 bytes decoded. The rows are deflated as they are made. */
async function pngBomb(side: number): Promise<Uint8Array> {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, side);
  view.setUint32(4, side);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8 bits, RGBA, deflate, no filter method, no interlace
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on("data", (b: Buffer) => parts.push(b));
  const ended = new Promise((resolve) => deflate.on("end", resolve));
  const row = Buffer.alloc(1 + side * 4); // filter byte 0, then transparent black
  for (let y = 0; y < side; y++) if (!deflate.write(row)) await new Promise((r) => deflate.once("drain", r));
  deflate.end();
  await ended;
  const idat = Buffer.concat(parts);
  const signature = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk("IHDR", ihdr), pngChunk("IDAT", idat), pngChunk("IEND", new Uint8Array(0))]);
}

type Outcome = { name: string; status: number | string; error?: string; ms: number };

async function timed(name: string, send: () => Promise<Response>): Promise<Outcome> {
  const start = performance.now();
  try {
    const res = await send();
    const body = await res.text();
    let error: string | undefined;
    try {
      error = (JSON.parse(body) as { error?: string }).error;
    } catch {
      /* not JSON */
    }
    return { name, status: res.status, error, ms: performance.now() - start };
  } catch (err) {
    // A server that refuses a body early may close the connection while the client is still sending it.
    return { name, status: (err as { code?: string }).code ?? String(err).slice(0, 60), ms: performance.now() - start };
  }
}

function multipart(field: string, filename: string, bytes: Uint8Array): FormData {
  const form = new FormData();
  form.set(field, new Blob([bytes as Uint8Array<ArrayBuffer>]), filename);
  return form;
}

async function main() {
  const idleSeconds = Number(process.argv[2] && /^\d+$/.test(process.argv[2]) ? process.argv[2] : 5);
  const work = mkdtempSync(join(tmpdir(), "sc-abuse-"));
  let server: Proc | undefined;
  let url = arg("--url");
  let pid = arg("--pid") ? Number(arg("--pid")) : undefined;
  if (!url) {
    server = await startSidechain({ LOG_LEVEL: "warn" });
    url = server.url;
    pid = server.proc.pid;
  }

  try {
    // A signed-in producer for the upload cases.
    const username = `abuse_${process.pid}`;
    const reg = await fetch(`${url}/api/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: `${username}@example.com`, username, password: "correct horse battery staple" }),
    });
    if (reg.status !== 201) throw new Error(`register failed: ${reg.status} ${await reg.text()}`);
    const token = ((await reg.json()) as { auth: { token: string } }).auth.token;
    const auth = { authorization: `Bearer ${token}` };

    // Bodies, made before anything is measured.
    const oversized = hugeJson(60 * 1000 * 1000);
    const nested = `{"email":${"[".repeat(5000)}${"]".repeat(5000)},"password":"x"}`;
    const wav = new Uint8Array(await Bun.file(await lavfi(join(work, "loop.wav"), signals.drums(4), ["-c:a", "pcm_s16le", "-f", "wav"])).arrayBuffer());
    const zeroTail = new Uint8Array(wav.length + 20 * MB);
    zeroTail.set(wav);
    const slashed = new Uint8Array(58 * MB);
    slashed.set(wav);
    const png = await pngBomb(8192);

    // Idle baseline: the same probe with nothing else going on.
    const idleRss = pid ? await rssNow(pid) : 0;
    const idleProbe = startProbe(url);
    const idleSampler = sampleRss(pid);
    await Bun.sleep(idleSeconds * 1000);
    const idle = await idleProbe.stop();
    const idlePeak = Math.max(idleRss, await idleSampler.stop());

    // Under attack: every case at once, while the probe runs.
    const attackProbe = startProbe(url);
    const attackSampler = sampleRss(pid);
    await Bun.sleep(200); // the probe is running before the first byte is sent
    const start = performance.now();
    const json = { "content-type": "application/json" };
    const cases = (arg("--cases") ?? "1,2,3,4,5").split(",").map(Number);
    const only = <T>(n: number, make: () => T[]): T[] => (cases.includes(n) ? make() : []);
    const outcomes = await Promise.all([
      ...only(1, () =>
        Array.from({ length: 8 }, (_, i) =>
          timed(`1. 60 MB JSON to /auth/login (${i < 4 ? "Content-Length" : "chunked"})`, () =>
            fetch(`${url}/api/v1/auth/login`, { method: "POST", headers: json, body: i < 4 ? oversized : chunked(oversized) }),
          ),
        ),
      ),
      ...only(2, () => [
        timed("2. JSON nested 5,000 deep to /auth/login", () => fetch(`${url}/api/v1/auth/login`, { method: "POST", headers: json, body: nested })),
      ]),
      ...only(3, () => [
        timed("3. 4 s WAV + 20 MB of zeros, signed in", () =>
          fetch(`${url}/api/v1/audio/upload`, { method: "POST", headers: auth, body: multipart("audio_file", "tail.wav", zeroTail) }),
        ),
      ]),
      ...only(4, () => [
        timed("4. 58 MB to /audio/upload/, signed in", () =>
          fetch(`${url}/api/v1/audio/upload/`, { method: "POST", headers: auth, body: multipart("audio_file", "big.wav", slashed) }),
        ),
      ]),
      ...only(5, () => [
        timed(`5. ${png.length >> 10} KB 8192×8192 PNG avatar, signed in`, () =>
          fetch(`${url}/api/v1/users/upload-profile-picture`, { method: "POST", headers: auth, body: multipart("file", "bomb.png", png) }),
        ),
      ]),
    ]);
    const attackMs = performance.now() - start;
    await Bun.sleep(200);
    const attack = await attackProbe.stop();
    const attackPeak = await attackSampler.stop();

    const idleP50 = percentile(idle.latencies, 50);
    const idleP99 = percentile(idle.latencies, 99);
    const p50 = percentile(attack.latencies, 50);
    const p99 = percentile(attack.latencies, 99);
    const growth = attackPeak - idlePeak;
    console.log(`machine: ${machine()}; load average ${loadavg()[0]!.toFixed(2)}`);
    console.log(`cases (all sent at once; done after ${(attackMs / 1000).toFixed(1)} s):`);
    for (const o of outcomes) console.log(`  ${o.name}: ${o.status}${o.error ? ` ${o.error}` : ""} in ${ms(o.ms)}`);
    console.log(`/livez idle (${idle.latencies.length} probes): p50 ${ms(idleP50)}, p99 ${ms(idleP99)}, max ${ms(Math.max(...idle.latencies))}`);
    console.log(
      `/livez under attack (${attack.latencies.length} probes, ${attack.failures} failed): p50 ${ms(p50)}, p99 ${ms(p99)}, max ${ms(Math.max(...attack.latencies))}; ratio p99 attack/idle ${(p99 / idleP99).toFixed(2)}`,
    );
    if (pid) console.log(`server RSS: idle ${mib(idlePeak)}, peak under attack ${mib(attackPeak)}, growth ${mib(growth)}`);
    console.log(
      `target /livez p99 ≤ 50 ms: ${p99 <= 50 ? "met" : "NOT met"}${pid ? `; target RSS growth ≤ 100 MB: ${growth <= 100 * 1000 * 1000 ? "met" : "NOT met"}` : ""}`,
    );
  } finally {
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--probe") await probe(process.argv[3]!);
else await main();

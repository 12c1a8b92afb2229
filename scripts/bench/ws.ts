// WebSocket scale on one machine: N authenticated idle connections (default 5,000) held by a few client processes
// (never in the server's process, so the server's memory is measured alone), the server's RSS and RSS per idle
// connection; then a producer with N connected followers publishes a loop through the real path (HTTP upload, the
// process-loop job, the ready transaction, publishPostReady) and we time until 50 %, 99 % and 100 % of the
// followers got `new_post`, from the post's ready_at. Baseline in the same run: a bare Bun.serve WebSocket server
// holding the same connections and sending a frame of the same size to all of them. Prints figures, asserts nothing.
// Usage: bun scripts/bench/ws.ts [connections] [rounds] [client processes]
// (internal) bun scripts/bench/ws.ts --client <ws url> <tokens file> <from> <count>
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "../../test/support/net.ts";
import { machine, ROOT } from "./lib.ts";

if (process.argv[2] === "--client") await client(process.argv[3]!, process.argv[4]!, Number(process.argv[5]), Number(process.argv[6]));
else await main();

// ── client process: opens its share of the connections, records when each got each new_post ──
async function client(url: string, tokensFile: string, from: number, count: number) {
  const tokens = (JSON.parse(await Bun.file(tokensFile).text()) as string[]).slice(from, from + count);
  const arrivals = new Map<string, number[]>();
  const sockets: WebSocket[] = [];
  let failed = 0;
  const open = (token: string) =>
    new Promise<void>((resolve) => {
      const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
      ws.onmessage = (e) => {
        const at = performance.timeOrigin + performance.now();
        const s = e.data as string;
        if (!s.startsWith('{"type":"new_post"')) return;
        const id = (JSON.parse(s) as { payload: { id: string } }).payload.id;
        let a = arrivals.get(id);
        if (!a) arrivals.set(id, (a = []));
        a.push(at);
      };
      ws.onopen = () => {
        sockets.push(ws);
        resolve();
      };
      ws.onerror = () => {
        failed++;
        resolve();
      };
    });
  // 100 handshakes in flight per process: fast, without overflowing the listen backlog.
  for (let i = 0; i < tokens.length; i += 100) await Promise.all(tokens.slice(i, i + 100).map(open));
  console.log(JSON.stringify({ connected: sockets.length, failed }));
  // The plugin's heartbeat: every 30 s per connection, spread out.
  let k = 0;
  setInterval(() => {
    for (let i = 0; i < Math.ceil(sockets.length / 30); i++) sockets[k++ % sockets.length]?.send('{"type":"heartbeat","payload":{}}');
  }, 1000);
  for await (const line of console) {
    const [cmd, id, want] = line.trim().split(" ");
    if (cmd === "await") {
      const end = Date.now() + 30_000;
      while ((arrivals.get(id!)?.length ?? 0) < Number(want) && Date.now() < end) await Bun.sleep(20);
      console.log(JSON.stringify({ id, times: arrivals.get(id!) ?? [] }));
    } else if (cmd === "exit") process.exit(0);
  }
}

// ── the bench ──
type Clients = { procs: ReturnType<typeof Bun.spawn>[]; lines: AsyncIterator<string>[]; connected: number; failed: number };

async function main() {
  const N = Number(process.argv[2] ?? 5000);
  const rounds = Number(process.argv[3] ?? 3);
  const P = Number(process.argv[4] ?? 4);
  const work = mkdtempSync(join(tmpdir(), "sc-bench-ws-"));
  // Raise the descriptor limit of every child (servers and clients) as far as the hard limit allows.
  const withFds = (cmd: string[]) => ["sh", "-c", 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"', "sh", ...cmd];
  const rss = async (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(await Bun.file(`/proc/${pid}/status`).text())?.[1] ?? 0) * 1024;
  const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.max(0, Math.ceil((p / 100) * xs.length) - 1))]!;
  const procs: ReturnType<typeof Bun.spawn>[] = [];
  const children = (p: ReturnType<typeof Bun.spawn>) => (procs.push(p), p);

  async function startClients(wsUrl: string, tokens: string[]): Promise<Clients> {
    const file = join(work, `tokens-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify(tokens));
    const per = Math.ceil(tokens.length / P);
    const started = [];
    for (let i = 0; i < P; i++) {
      const p = children(
        Bun.spawn(withFds([process.execPath, import.meta.path, "--client", wsUrl, file, String(i * per), String(per)]), {
          stdin: "pipe",
          stdout: "pipe",
          stderr: "inherit",
        }),
      );
      started.push(p);
    }
    const lines = started.map((p) => linesOf(p.stdout as ReadableStream<Uint8Array>));
    let connected = 0;
    let failed = 0;
    for (const l of lines) {
      const r = JSON.parse((await l.next()).value) as { connected: number; failed: number };
      connected += r.connected;
      failed += r.failed;
    }
    return { procs: started, lines, connected, failed };
  }

  async function arrivals(c: Clients, id: string): Promise<number[]> {
    const want = Math.ceil(c.connected / P);
    for (const p of c.procs) (p.stdin as import("bun").FileSink).write(`await ${id} ${want}\n`);
    const all: number[] = [];
    for (const l of c.lines) all.push(...(JSON.parse((await l.next()).value) as { times: number[] }).times);
    return all.sort((a, b) => a - b);
  }

  async function stopClients(c: Clients) {
    for (const p of c.procs) {
      (p.stdin as import("bun").FileSink).write("exit\n");
      (p.stdin as import("bun").FileSink).end();
    }
    await Promise.all(c.procs.map((p) => p.exited));
  }

  const report = (name: string, t0: number, times: number[], total: number) => {
    const d = times.map((t) => t - t0);
    return `${name}: ${d.length}/${total} got it; 50 % after ${pct(d, 50).toFixed(0)} ms, 99 % after ${pct(d, 99).toFixed(0)} ms, 100 % after ${d[d.length - 1]!.toFixed(0)} ms`;
  };

  console.log(
    `machine: ${machine()}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")} at start`,
  );
  console.log(`${N} connections from ${P} client processes; ${rounds} fan-out rounds`);
  const results: Record<string, { perConn: number; rssIdle: number; rssConnected: number; p50: number[]; p99: number[]; p100: number[] }> = {};

  try {
    // ── baseline: bare Bun.serve WebSocket server, same connections, a frame of the same size to every socket ──
    {
      const port = await freePort();
      const bare = children(
        Bun.spawn(
          withFds([
            process.execPath,
            "-e",
            `const all = new Set(); const pad = "x".repeat(Number(process.env.PAD));
             Bun.serve({ port: ${port}, hostname: "127.0.0.1",
               fetch(req, srv) { const u = new URL(req.url);
                 if (u.pathname === "/fire") { const id = crypto.randomUUID(); const t0 = performance.timeOrigin + performance.now();
                   const data = JSON.stringify({ type: "new_post", payload: { id, pad }, timestamp: Date.now() });
                   for (const ws of all) ws.send(data); return Response.json({ id, t0 }); }
                 if (u.pathname === "/health") return new Response("ok");
                 return srv.upgrade(req) ? undefined : new Response("no", { status: 400 }); },
               websocket: { open(ws) { all.add(ws); }, close(ws) { all.delete(ws); }, message() {}, perMessageDeflate: false } });`,
          ]),
          { env: { ...process.env, PAD: "1500" }, stdout: "inherit", stderr: "inherit" },
        ),
      );
      const url = `http://127.0.0.1:${port}`;
      await waitFor(
        async () => (await fetch(`${url}/health`)).ok,
        10_000,
        () => bare.exitCode !== null,
      );
      await Bun.sleep(1000);
      const rssIdle = await rss(bare.pid);
      const c = await startClients(
        `ws://127.0.0.1:${port}/`,
        Array.from({ length: N }, (_, i) => `t${i}`),
      );
      await Bun.sleep(3000);
      const rssConnected = await rss(bare.pid);
      const r = { perConn: (rssConnected - rssIdle) / c.connected, rssIdle, rssConnected, p50: [] as number[], p99: [] as number[], p100: [] as number[] };
      for (let i = 0; i < rounds; i++) {
        const { id, t0 } = (await (await fetch(`${url}/fire`)).json()) as { id: string; t0: number };
        const times = await arrivals(c, id);
        const d = times.map((t) => t - t0);
        r.p50.push(pct(d, 50));
        r.p99.push(pct(d, 99));
        r.p100.push(d[d.length - 1]!);
        console.log(`  bare round ${i + 1}: ${report("followers", t0, times, c.connected)}`);
      }
      console.log(
        `bare Bun.serve: ${c.connected} connected (${c.failed} failed); RSS ${mib(rssIdle)} → ${mib(rssConnected)}: ${kib(r.perConn)} per idle connection`,
      );
      results.bare = r;
      await stopClients(c);
      bare.kill();
      await bare.exited;
    }

    // ── Sidechain: the real server from source ──
    {
      const dataDir = join(work, "data");
      const port = await freePort();
      const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString("base64url");
      const server = children(
        Bun.spawn(withFds([process.execPath, "src/index.ts"]), {
          cwd: ROOT,
          env: { ...process.env, PORT: String(port), DATA_DIR: dataDir, JWT_SECRET: secret, LOG_LEVEL: "warn", UPLOAD_RATE_PER_HOUR: "100000" },
          stdout: "inherit",
          stderr: "inherit",
        }),
      );
      const url = `http://127.0.0.1:${port}`;
      await waitFor(
        async () => (await fetch(`${url}/readyz`)).ok,
        30_000,
        () => server.exitCode !== null,
      );

      const reg = await fetch(`${url}/api/v1/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "star@example.com", username: "bench_star", password: "correct horse battery staple" }),
      });
      const star = ((await reg.json()) as { auth: { token: string; user: { id: string } } }).auth;

      // N followers, each with a session, written straight into the server's database (fast), and their tokens.
      const { loadConfig } = await import("../../src/config.ts");
      const { openDatabase } = await import("../../src/db/client.ts");
      const { follows, sessions, users } = await import("../../src/db/schema.ts");
      const { newUserRow } = await import("../../src/users/service.ts");
      const { signAccessToken } = await import("../../src/auth/tokens.ts");
      const { eq, sql } = await import("drizzle-orm");
      const db = openDatabase(loadConfig({ DATA_DIR: dataDir, JWT_SECRET: secret }));
      const now = Date.now();
      const ids: { user: string; session: string }[] = [];
      for (let i = 0; i < N; i += 500) {
        const batch = Array.from({ length: Math.min(500, N - i) }, (_, j) => {
          const u = newUserRow(
            { email: `f${i + j}@example.com`, emailVerified: true, username: `fan_${i + j}`, displayName: `Fan ${i + j}`, passwordHash: null },
            now,
          );
          return { u, s: Bun.randomUUIDv7() };
        });
        await db.tx(async (tx) => {
          await tx.insert(users).values(batch.map((b) => b.u));
          await tx.insert(sessions).values(
            batch.map((b) => ({
              id: b.s,
              userId: b.u.id,
              createdAt: now,
              lastUsedAt: now,
              authenticatedAt: now,
              expiresAt: now + 86400_000,
              absoluteExpiresAt: now + 86400_000,
              refreshTokenHash: `bench-${b.s}`,
            })),
          );
          await tx.insert(follows).values(batch.map((b) => ({ followerId: b.u.id, followeeId: star.user.id, createdAt: now })));
        });
        ids.push(...batch.map((b) => ({ user: b.u.id, session: b.s })));
      }
      await db.tx((tx) =>
        tx
          .update(users)
          .set({ followerCount: sql`${N}` })
          .where(eq(users.id, star.user.id)),
      );
      const tokens = await Promise.all(ids.map(async (x) => (await signAccessToken(secret, { userId: x.user, sessionId: x.session }, now, 86400)).token));

      for (let i = 0; i < 50; i++) await fetch(`${url}/health`);
      await Bun.sleep(1000);
      const rssIdle = await rss(server.pid);
      const tConnect = performance.now();
      const c = await startClients(`ws://127.0.0.1:${port}/api/v1/ws`, tokens);
      const connectMs = performance.now() - tConnect;
      await Bun.sleep(5000); // let the connects' presence writes and last_active updates settle
      const rssConnected = await rss(server.pid);
      const r = { perConn: (rssConnected - rssIdle) / c.connected, rssIdle, rssConnected, p50: [] as number[], p99: [] as number[], p100: [] as number[] };
      console.log(
        `sidechain: ${c.connected} connected (${c.failed} failed) in ${(connectMs / 1000).toFixed(1)} s (token check, session and user read, presence write each)`,
      );

      const { lavfi } = await import("../../test/support/audio.ts");
      const wav = await lavfi(join(work, "loop.wav"), "sine=frequency=220:duration=4", ["-ar", "44100", "-ac", "2", "-c:a", "pcm_s16le"]);
      const { posts } = await import("../../src/db/schema.ts");
      for (let i = 0; i < rounds; i++) {
        const form = new FormData();
        form.set("audio_file", Bun.file(wav), "loop.wav");
        form.set("filename", `bench ${i}`);
        const up = await fetch(`${url}/api/v1/audio/upload`, { method: "POST", headers: { authorization: `Bearer ${star.token}` }, body: form });
        const { post_id, status } = (await up.json()) as { post_id: string; status: string };
        if (status !== "ready") throw new Error(`upload answered ${up.status} ${status}`);
        const times = await arrivals(c, post_id);
        const [row] = await db.db.select({ readyAt: posts.readyAt }).from(posts).where(eq(posts.id, post_id));
        const t0 = row!.readyAt!;
        const d = times.map((t) => t - t0);
        r.p50.push(pct(d, 50));
        r.p99.push(pct(d, 99));
        r.p100.push(d[d.length - 1]!);
        console.log(`  sidechain round ${i + 1}: ${report("followers", t0, times, c.connected)} (from the post's ready_at)`);
      }
      const rssAfter = await rss(server.pid);
      console.log(
        `sidechain: RSS ${mib(rssIdle)} idle → ${mib(rssConnected)} with ${c.connected} connections: ${kib(r.perConn)} per idle connection; ${mib(rssAfter)} after the fan-outs`,
      );
      results.sidechain = r;
      await stopClients(c);
      await db.close();
      server.kill("SIGTERM");
      await server.exited;
    }

    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    const s = results.sidechain!;
    const b = results.bare!;
    console.log("");
    console.log(
      `memory per idle connection: sidechain ${kib(s.perConn)} vs bare ${kib(b.perConn)} (target ≤ 40 KB): ratio ${(s.perConn / b.perConn).toFixed(2)}`,
    );
    console.log(
      `fan-out to ${N} followers, median of ${rounds} rounds: sidechain p50 ${med(s.p50).toFixed(0)} ms, p99 ${med(s.p99).toFixed(0)} ms, 100 % ${med(s.p100).toFixed(0)} ms; bare p50 ${med(b.p50).toFixed(0)} ms, p99 ${med(b.p99).toFixed(0)} ms, 100 % ${med(b.p100).toFixed(0)} ms (target p99 ≤ 250 ms)`,
    );
    console.log(
      `load average at the end: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(" ")}`,
    );
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
    rmSync(work, { recursive: true, force: true });
  }
}

function linesOf(stream: ReadableStream<Uint8Array>): AsyncIterator<string> {
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  let buf = "";
  return {
    async next() {
      for (;;) {
        const nl = buf.indexOf("\n");
        if (nl >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          return { value: line, done: false };
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("client process ended early");
        buf += decoder.decode(value, { stream: true });
      }
    },
  };
}

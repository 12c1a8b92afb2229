// The relay (`sidechain relay <URL>`, src/relay/relay.ts): a real Sidechain server started on port 0
// (test/support/realtime.ts) behind a relay on a free port, driven as the plugin drives localhost:8787
// (docs/plugin-contract.md; the plugin's base URL is Constants::Endpoints::DEV_BASE_URL in
// plugin/src/util/Constants.h, its WebSocket URL WebSocketClient::buildUri in plugin/src/network/WebSocketClient.cpp).
// Where a property can only be seen from the upstream's side (a header that must not arrive, a chunk that arrives
// before the body ends), a small recording server stands in for the upstream.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import type { Server, ServerWebSocket } from "bun";
import { createLogger } from "../../src/log.ts";
import { parseUpstream, RelayError, startRelay, type Relay } from "../../src/relay/relay.ts";
import { relayCommand } from "../../src/relay/command.ts";
import { runCli } from "../../src/cli.ts";
import { lavfi, signals } from "../support/audio.ts";
import { freePort, waitFor } from "../support/net.ts";
import { Browser, newSessionId, startMockProvider, type MockProvider } from "../support/oauth.ts";
import { eventually, startRealtime, type RealtimeServer } from "../support/realtime.ts";
import { upgradeRequest, WsClient } from "../support/ws.ts";
import type { TestEnv } from "../support/deps.ts";

const ROOT = join(import.meta.dir, "../..");
const logLines: Record<string, unknown>[] = [];
const log = createLogger("info", (l) => void logLines.push(JSON.parse(l)));

let google: MockProvider;
let upstream: RealtimeServer;
let relay: Relay;
let base: string; // the relay, as the plugin reaches it
const work = mkdtempSync(join(tmpdir(), "sc-relay-"));

beforeAll(async () => {
  google = await startMockProvider();
  upstream = await startRealtime(google.env("GOOGLE"));
  relay = await startRelay({ upstream: upstream.url, port: 0, log });
  base = `http://localhost:${relay.port}`;
}, 60_000);
afterAll(async () => {
  await relay?.stop();
  await upstream?.stop();
  await google?.stop();
});

/** A request as the plugin sends it: JSON content type on everything, bearer token when signed in. */
const plugin = (path: string, init: { method?: string; body?: unknown; token?: string } = {}) =>
  fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { "content-type": "application/json", ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });

/** Raw bytes on a socket, for request lines fetch() cannot send. */
function rawRequest(port: number, text: string, host = "127.0.0.1"): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => socket.write(text));
    let out = "";
    socket.on("data", (d) => (out += d));
    socket.on("close", () => resolve(out));
    socket.on("error", reject);
  });
}

describe("HTTP through the relay", () => {
  test("the plugin's REST calls: health, register, sign-in state, feed; answers are the upstream's, byte for byte", async () => {
    expect(await (await plugin("/health")).json()).toEqual({ status: "ok" });
    const reg = await plugin("/api/v1/auth/register", {
      body: { email: "relayed@example.com", username: "relayed", password: "correct horse battery staple" },
    });
    expect(reg.status).toBe(201);
    const { auth } = (await reg.json()) as { auth: { token: string; user: { id: string; username: string } } };
    const me = await plugin("/api/v1/users/me", { token: auth.token });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { username: string }).username).toBe("relayed");
    await upstream.readyPost(await upstream.producer("relay_author"));
    const viaRelay = await (await plugin("/api/v1/feed/global?limit=5", { token: auth.token })).text();
    const direct = await (await upstream.get("/api/v1/feed/global?limit=5", auth.token)).text();
    expect(JSON.parse(viaRelay).posts.length).toBe(1);
    expect(viaRelay).toBe(direct); // media URLs still name the upstream: nothing is rewritten in bodies
    expect(JSON.parse(viaRelay).posts[0].audio_url).toStartWith(upstream.running.deps.config.PUBLIC_URL);
  });

  test("errors come back unchanged, status and contract body", async () => {
    const res = await plugin("/api/v1/users/me", { token: "not-a-token" });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_token");
    const missing = await plugin("/api/v1/nothing-here");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toBeString();
  });

  test("a real WAV uploaded as a slow chunked multipart body reaches the server whole and becomes a post", async () => {
    const p = await upstream.producer("relay_uploader");
    const wav = readFileSync(await lavfi(join(work, "drums.wav"), signals.drums(4), ["-c:a", "pcm_s16le", "-f", "wav"]));
    const boundary = "relayboundary7MA4YWxkTrZu0gW";
    const enc = new TextEncoder();
    const parts = [
      enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name="bpm"\r\n\r\n120\r\n`),
      enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name="filename"\r\n\r\nRelayed drums\r\n`),
      enc.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="audio_file"; filename="loop.wav"\r\nContent-Type: audio/wav\r\nContent-Transfer-Encoding: binary\r\n\r\n`,
      ),
      ...Array.from({ length: Math.ceil(wav.length / 65536) }, (_, i) => wav.subarray(i * 65536, (i + 1) * 65536)),
      enc.encode(`\r\n--${boundary}--\r\n`),
    ];
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        const next = parts.shift();
        if (!next) return c.close();
        await Bun.sleep(2); // a slow producer's connection
        c.enqueue(next);
      },
    });
    const res = await fetch(`${base}/api/v1/audio/upload`, {
      method: "POST",
      body,
      headers: { authorization: `Bearer ${p.token}`, "content-type": `multipart/form-data; boundary=${boundary}` },
    });
    const answer = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBeLessThan(300);
    expect(JSON.stringify(answer)).toContain("Relayed drums");
  }, 60_000);

  test("every method passes (PUT, DELETE, PATCH, OPTIONS, HEAD); JUCE only sends GET and POST, but other clients may not", async () => {
    for (const method of ["PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const res = await fetch(`${base}/api/v1/users/me`, { method, headers: { authorization: "Bearer nope" } });
      expect(res.status).toBeGreaterThanOrEqual(400); // the upstream's answer, whatever it is: the relay does not filter methods
      expect(res.status).not.toBe(502);
    }
    const head = await fetch(`${base}/health`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });
});

describe("WebSocket through the relay", () => {
  test("the plugin's /api/v1/ws?token=: frames both ways, events from the upstream, the upstream's close code", async () => {
    const a = await upstream.producer("ws_a");
    const b = await upstream.producer("ws_b");
    const ws = await WsClient.connect(base, a.token);
    ws.heartbeat(); // text, plugin → server
    expect((await ws.next("pong")).payload).toBeDefined(); // text, server → plugin
    // an event published by the upstream (b follows a, directly) reaches the relayed connection
    await fetch(`${upstream.url}/api/v1/social/follow`, {
      method: "POST",
      headers: { authorization: `Bearer ${b.token}`, "content-type": "application/json" },
      body: JSON.stringify({ target_user_id: a.id }),
    });
    expect(JSON.stringify(await ws.next("follow"))).toContain(b.id);
    // revoking the session closes the connection with the hub's own code, passed through
    await fetch(`${upstream.url}/api/v1/auth/logout`, { headers: { authorization: `Bearer ${a.token}` } });
    const closed = await ws.waitClosed(10_000);
    expect(closed).toEqual({ code: 4001, reason: "session_revoked" });
  });

  test("a refused token gets the upstream's own HTTP answer, not a relay error", async () => {
    const res = await upgradeRequest(base, "?token=forged");
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: string };
    expect(body.error).toBeString();
    expect(body.error).not.toBe("upstream_unreachable");
  });

  test("protocol pings reach the upstream and are answered", async () => {
    const p = await upstream.producer("ws_ping");
    const ws = await WsClient.connect(base, p.token);
    (ws.ws as WebSocket & { ping(data?: string): void }).ping("are you there");
    await ws.until(() => ws.pongs > 0, 5000, "pong");
    await ws.close();
  });
});

describe("the OAuth browser round trip through the relay", () => {
  test("the start is sent to the upstream (where the flow cookie must live); the provider returns to the upstream; the plugin's poll through the relay completes", async () => {
    const sid = newSessionId();
    expect(await (await plugin(`/api/v1/auth/oauth/poll?session_id=${sid}`)).json()).toEqual({ status: "pending" });
    // What the plugin opens in the browser: http://localhost:8787/api/v1/auth/google?session_id=…
    const start = await fetch(`${base}/api/v1/auth/google?session_id=${sid}`, { redirect: "manual" });
    expect(start.status).toBe(302);
    expect(start.headers.get("location")).toBe(`${upstream.url}/api/v1/auth/google?session_id=${sid}`);
    expect(start.headers.getSetCookie()).toEqual([]); // a cookie for localhost would never reach the callback
    // The browser follows: the upstream starts the flow and sends it on to the provider (302).
    const browser = new Browser(upstreamAsEnv());
    google.user = { sub: "relay-g-1", email: "relay.oauth@example.com", email_verified: true, name: "Relay Oauth" };
    const atUpstream = await browser.app(start.headers.get("location")!);
    expect(atUpstream.status).toBe(302);
    expect(atUpstream.headers.get("location")).toStartWith(google.server.issuer.url!);
    expect(browser.cookies.has("sc_oauth_google")).toBe(true);
    const page = await browser.app(await browser.throughProvider(atUpstream));
    const done = await browser.confirm(await page.text());
    expect(done.status).toBe(200);
    const poll = (await (await plugin(`/api/v1/auth/oauth/poll?session_id=${sid}`)).json()) as { status: string; auth: { user: { username: string } } };
    expect(poll.status).toBe("complete");
    expect(poll.auth.user.username).toBeString();
  });

  test("HEAD of a start is redirected too; the callback and the poll are plain forwards", async () => {
    const head = await fetch(`${base}/api/v1/auth/discord?session_id=${newSessionId()}`, { method: "HEAD", redirect: "manual" });
    expect(head.status).toBe(302);
    const callback = await fetch(`${base}/api/v1/auth/google/callback?state=x&code=y`, { redirect: "manual" });
    expect(callback.status).toBe(400); // the upstream's own page: no flow cookie here
    expect(await callback.text()).toContain("not started in this browser");
  });
});

/** A Browser (test/support/oauth.ts) whose requests go to the real upstream server. */
function upstreamAsEnv(): TestEnv {
  const handle = (req: Request) => {
    const u = new URL(req.url);
    return fetch(`${upstream.url}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, body: req.body, redirect: "manual" });
  };
  return { app: { handle } } as unknown as TestEnv;
}

// ---------------------------------------------------------------------------------------------------------------
// What only the upstream can see: a recording server in its place.

type Seen = { method: string; path: string; headers: Record<string, string>; chunks: number[] };
type Probe = {
  server: Server<{ path: string }>;
  url: string;
  seen: Seen[];
  /** Resolves when the upstream has received `bytes` of the current request body. */
  received(bytes: number): Promise<void>;
  wsClosed: { code: number; reason: string }[];
  release(): void;
};

async function startProbe(): Promise<Probe> {
  const seen: Seen[] = [];
  const wsClosed: { code: number; reason: string }[] = [];
  let got = 0;
  let waiters: { bytes: number; resolve: () => void }[] = [];
  let release = () => {};
  const server = Bun.serve<{ path: string }>({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req, srv) {
      const u = new URL(req.url);
      u.pathname = u.pathname.replace(/^\/community/, ""); // the relay under test keeps its URL's path prefix
      const entry: Seen = { method: req.method, path: new URL(req.url).pathname + u.search, headers: req.headers.toJSON(), chunks: [] };
      seen.push(entry);
      if (req.headers.get("upgrade") === "websocket") return srv.upgrade(req, { data: { path: entry.path } }) ? undefined : new Response("no", { status: 400 });
      if (u.pathname === "/sink") {
        got = 0;
        for await (const chunk of req.body! as unknown as AsyncIterable<Uint8Array>) {
          entry.chunks.push(chunk.byteLength);
          got += chunk.byteLength;
          waiters = waiters.filter((w) => (got >= w.bytes ? (w.resolve(), false) : true));
        }
        return Response.json({ bytes: got });
      }
      if (u.pathname === "/slow-answer") {
        const gate = new Promise<void>((r) => (release = r));
        return new Response(
          new ReadableStream({
            async start(c) {
              c.enqueue(new TextEncoder().encode("first part;"));
              await gate;
              c.enqueue(new TextEncoder().encode("second part"));
              c.close();
            },
          }),
        );
      }
      if (u.pathname === "/cookies") {
        const h = new Headers({
          location: "https://elsewhere.example/after",
          "content-encoding": "gzip",
          "x-up": "1",
          connection: "x-up",
          "keep-alive": "timeout=5",
        });
        h.append("set-cookie", "a=1; Path=/; HttpOnly");
        h.append("set-cookie", "b=2; Path=/x; Secure");
        return new Response(Bun.gzipSync(new TextEncoder().encode("compressed answer")), { status: 303, headers: h });
      }
      return Response.json({ ok: true });
    },
    websocket: {
      message(ws: ServerWebSocket<{ path: string }>, m) {
        if (typeof m === "string" && m.startsWith("close:")) return ws.close(Number(m.slice(6)), `closing ${m.slice(6)}`);
        ws.send(m); // echo, text as text and binary as binary
      },
      close(_ws, code, reason) {
        wsClosed.push({ code, reason });
      },
    },
  });
  return {
    server,
    url: `http://127.0.0.1:${server.port}`,
    seen,
    wsClosed,
    received: (bytes) => new Promise<void>((resolve) => (got >= bytes ? resolve() : waiters.push({ bytes, resolve }))),
    release: () => release(),
  };
}

describe("the relay's rules, seen from the upstream", () => {
  let probe: Probe;
  let r: Relay;
  let at: string;
  beforeAll(async () => {
    probe = await startProbe();
    r = await startRelay({ upstream: `${probe.url}/community/`, port: 0, log });
    at = `http://localhost:${r.port}`;
  });
  afterAll(async () => {
    await r?.stop();
    await probe?.server.stop(true);
  });

  test("an upload streams: the upstream has the first chunk before the producer sends the second", async () => {
    let push!: (b: Uint8Array | null) => void;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        push = (b) => (b ? c.enqueue(b) : c.close());
      },
    });
    const answer = fetch(`${at}/sink`, { method: "POST", body, headers: { "content-type": "application/octet-stream" } });
    push(new Uint8Array(64 * 1024).fill(1));
    await probe.received(64 * 1024); // were the relay to buffer, this would never resolve (the body has not ended)
    push(new Uint8Array(64 * 1024).fill(2));
    await probe.received(128 * 1024);
    push(null);
    const res = await answer;
    expect(await res.json()).toEqual({ bytes: 128 * 1024 });
    expect(probe.seen.at(-1)!.path).toBe("/community/sink"); // the URL's path prefix is kept
  });

  test("an answer streams too: the client reads the first part before the upstream has finished", async () => {
    const res = await fetch(`${at}/slow-answer`);
    const reader = res.body!.getReader();
    const first = await reader.read(); // the upstream is still holding the second part
    expect(new TextDecoder().decode(first.value)).toBe("first part;");
    probe.release();
    let rest = "";
    for (let c = await reader.read(); !c.done; c = await reader.read()) rest += new TextDecoder().decode(c.value);
    expect(rest).toBe("second part");
  });

  test("headers: hop-by-hop dropped both ways, Host set for the upstream, Origin rewritten only when it is the relay's own", async () => {
    await fetch(`${at}/h`, {
      headers: { connection: "x-private", "x-private": "1", "keep-alive": "timeout=1", "x-plugin": "yes", origin: at, "accept-encoding": "gzip" },
    });
    const seen = probe.seen.at(-1)!;
    expect(seen.headers.host).toBe(new URL(probe.url).host);
    expect(seen.headers["x-private"]).toBeUndefined();
    expect(seen.headers["keep-alive"]).toBeUndefined();
    expect(seen.headers["x-plugin"]).toBe("yes");
    expect(seen.headers.origin).toBe(probe.url);
    expect(seen.headers["accept-encoding"]).toBe("gzip");
    await fetch(`${at}/h`, { headers: { origin: "https://evil.example" } });
    expect(probe.seen.at(-1)!.headers.origin).toBe("https://evil.example"); // a foreign page stays foreign
    await fetch(`${at}/h`, { headers: { origin: `http://127.0.0.1:${r.port}` } });
    expect(probe.seen.at(-1)!.headers.origin).toBe(probe.url);
  });

  test("answers: status, Location, every Set-Cookie and compressed bytes pass untouched; hop-by-hop headers do not", async () => {
    const res = await fetch(`${at}/cookies`, { redirect: "manual", decompress: false } as RequestInit);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("https://elsewhere.example/after");
    expect(res.headers.getSetCookie()).toEqual(["a=1; Path=/; HttpOnly", "b=2; Path=/x; Secure"]);
    expect(res.headers.get("content-encoding")).toBe("gzip");
    expect(new TextDecoder().decode(Bun.gunzipSync(await res.bytes()))).toBe("compressed answer");
    expect(res.headers.get("x-up")).toBeNull(); // named by the upstream's Connection header
    expect(res.headers.get("keep-alive")).toBeNull();
  });

  test("WebSocket: text stays text, binary stays binary, close codes pass both ways", async () => {
    const ws = new WebSocket(`ws://localhost:${r.port}/ws?token=t`);
    ws.binaryType = "arraybuffer";
    const got: (string | ArrayBuffer)[] = [];
    let echoed!: () => void;
    const twoEchoes = new Promise<void>((resolve) => (echoed = resolve));
    ws.addEventListener("message", (e) => got.push(e.data) === 2 && echoed());
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })));
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    ws.send("plain text");
    ws.send(new Uint8Array([0, 1, 2, 255]));
    await twoEchoes;
    expect(got[0]).toBe("plain text");
    expect([...new Uint8Array(got[1] as ArrayBuffer)]).toEqual([0, 1, 2, 255]);
    expect(probe.seen.at(-1)!.path).toBe("/community/ws?token=t");
    ws.send("close:4321");
    expect(await closed).toEqual({ code: 4321, reason: "closing 4321" }); // upstream → plugin

    const ws2 = await WsClient.connect(at, "t", "/ws");
    await ws2.close(4002); // plugin → upstream
    await eventually(() => probe.wsClosed.some((c) => c.code === 4002), 5000, "the upstream to see 4002");
    const ws3 = await WsClient.connect(at, "t", "/ws");
    await ws3.close(1000);
    await eventually(() => probe.wsClosed.some((c) => c.code === 1000), 5000, "the upstream to see 1000");
  });

  test("not an open proxy: foreign Host, proxy-style absolute targets and CONNECT are refused and reach nobody", async () => {
    const before = probe.seen.length;
    const foreign = await rawRequest(r.port, "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
    expect(foreign).toStartWith("HTTP/1.1 421");
    expect(foreign).toContain('"error":"misdirected_request"');
    const rebinding = await rawRequest(r.port, "GET /api/v1/users/me HTTP/1.1\r\nHost: attacker.example:8787\r\nConnection: close\r\n\r\n");
    expect(rebinding).toStartWith("HTTP/1.1 421");
    const tunnel = await rawRequest(r.port, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n");
    expect(tunnel).toStartWith("HTTP/1.1 405");
    expect(probe.seen.length).toBe(before);
    // A path that looks like a network-path reference stays a path on the upstream.
    const odd = await rawRequest(r.port, "GET //example.com/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    expect(odd).toStartWith("HTTP/1.1 200");
    expect(probe.seen.at(-1)!.path).toBe("/community//example.com/x");
    expect(probe.seen.at(-1)!.headers.host).toBe(new URL(probe.url).host);
  });

  test("listens on 127.0.0.1 and ::1 only", async () => {
    expect(r.urls).toEqual([`http://127.0.0.1:${r.port}`, `http://[::1]:${r.port}`]);
    expect((await fetch(`http://[::1]:${r.port}/h`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${r.port}/h`)).status).toBe(200);
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && !a.internal && a.family === "IPv4")?.address;
    if (outside) await expect(rawRequest(r.port, "GET /h HTTP/1.1\r\nHost: localhost\r\n\r\n", outside)).rejects.toThrow();
  });

  test("one log line per request, without the query string", async () => {
    logLines.length = 0;
    await fetch(`${at}/h?token=secret-token-value`);
    const lines = logLines.filter((l) => l.path === "/h");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: "relay", method: "GET", path: "/h", status: 200 });
    expect(JSON.stringify(logLines)).not.toContain("secret-token-value");
  });
});

describe("when the upstream is down", () => {
  test("HTTP and WebSocket answer 502 upstream_unreachable in the contract's shape", async () => {
    const port = await freePort();
    const r = await startRelay({ upstream: `http://127.0.0.1:${port}`, port: 0, log });
    try {
      const res = await fetch(`http://localhost:${r.port}/api/v1/feed/global`, { headers: { "content-type": "application/json" } });
      expect(res.status).toBe(502);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe("upstream_unreachable");
      expect(body.message).toContain(`http://127.0.0.1:${port}`);
      const ws = await upgradeRequest(`http://localhost:${r.port}`, "?token=x");
      expect(ws.status).toBe(502);
      expect(((await ws.json()) as { error: string }).error).toBe("upstream_unreachable");
    } finally {
      await r.stop();
    }
  });

  test("an open WebSocket whose upstream goes away is closed, with the upstream's code when it sent one", async () => {
    const up = await startRealtime();
    const r = await startRelay({ upstream: up.url, port: 0, log });
    try {
      const p = await up.producer("ws_down");
      const ws = await WsClient.connect(`http://localhost:${r.port}`, p.token);
      await up.stop();
      expect(await ws.waitClosed(10_000)).toEqual({ code: 1001, reason: "server_shutdown" });
    } finally {
      await r.stop();
    }
  });

  test("an upstream connection that just drops (no close frame) closes the plugin's with 1014, bad gateway", async () => {
    // A WebSocket server that completes the handshake and then cuts the TCP connection.
    const dropper = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(socket, data) {
          const key = /sec-websocket-key: *(\S+)/i.exec(data.toString())?.[1] ?? "";
          const accept = new Bun.CryptoHasher("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
          socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
          setTimeout(() => socket.end(), 50);
        },
      },
    });
    const r = await startRelay({ upstream: `http://127.0.0.1:${dropper.port}`, port: 0, log });
    try {
      const ws = new WebSocket(`ws://localhost:${r.port}/api/v1/ws?token=x`);
      const closed = await new Promise<{ code: number; reason: string }>((resolve) =>
        ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })),
      );
      expect(closed).toEqual({ code: 1014, reason: "upstream connection lost" });
    } finally {
      await r.stop();
      dropper.stop(true);
    }
  });
});

describe("starting", () => {
  test("the URL must be http(s), without credentials, query or fragment", () => {
    for (const bad of [
      "loops.example.com",
      "ftp://loops.example.com",
      "https://u:p@loops.example.com",
      "https://loops.example.com/?x=1",
      "https://loops.example.com/#top",
      "javascript:alert(1)",
    ]) {
      expect(() => parseUpstream(bad)).toThrow(RelayError);
    }
    expect(parseUpstream("https://loops.example.com/")).toEqual({
      origin: "https://loops.example.com",
      base: "https://loops.example.com",
      wsBase: "wss://loops.example.com",
    });
    expect(parseUpstream("http://10.0.0.2:8787/sc/").base).toBe("http://10.0.0.2:8787/sc");
  });

  test("a taken port is refused with a clear message, and nothing is left listening", async () => {
    const first = await startRelay({ upstream: "https://loops.example.com", port: 0, log });
    try {
      const err = await startRelay({ upstream: "https://loops.example.com", port: first.port, log }).catch((e) => e);
      expect(err).toBeInstanceOf(RelayError);
      expect(err.message).toContain(`port ${first.port}`);
      expect(err.message).toContain("--port");
    } finally {
      await first.stop();
    }
    await expect(startRelay({ upstream: "https://loops.example.com", port: 70000, log })).rejects.toThrow("--port");
  });

  test("`sidechain relay`: arguments, a clean stop, refusals with exit codes", async () => {
    const out: string[] = [];
    const io = { out: (l: string) => void out.push(l), err: (l: string) => void out.push(`ERR ${l}`) };
    let stop!: () => void;
    const until = new Promise<void>((r) => (stop = r));
    const running = relayCommand([upstream.url], io, { until, log, port: 0 });
    await eventually(() => out.some((l) => l.startsWith("Relaying")), 5000, "the relay to start");
    expect(out[0]).toContain(`to ${upstream.url}`);
    const port = Number(/localhost:(\d+)/.exec(out[0]!)![1]);
    expect((await fetch(`http://localhost:${port}/health`)).status).toBe(200);
    stop();
    expect(await running).toBe(0);
    expect(await relayCommand([], io)).toBe(2);
    expect(out.at(-1)).toContain("give the community server's URL");
    expect(await relayCommand(["https://a.example", "https://b.example"], io)).toBe(2);
    expect(await relayCommand(["https://a.example", "--port", "http"], io)).toBe(2);
    expect(await relayCommand(["https://a.example", "--port=0"], io)).toBe(2);
    expect(await relayCommand(["https://a.example", "--verbose"], io)).toBe(2);
    expect(await relayCommand(["ftp://a.example"], io)).toBe(1);
    expect(out.at(-1)).toContain("cannot start");
    expect(await runCli(["help"], {}, io)).toBe(0);
    expect(out.at(-1)).toContain("sidechain relay <URL> [--port N]");
  });

  test("`bun src/index.ts relay <URL> --port N` from a checkout: serves, then stops on SIGTERM", async () => {
    const port = await freePort();
    const proc = Bun.spawn([process.execPath, "src/index.ts", "relay", upstream.url, "--port", String(port)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir() },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      await waitFor(
        async () => (await fetch(`http://localhost:${port}/health`)).ok,
        15_000,
        () => proc.exitCode !== null,
      );
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      const stdout = await new Response(proc.stdout).text();
      expect(stdout).toContain(`Relaying http://127.0.0.1:${port}`);
      expect(stdout).toContain('"msg":"relay"');
    } finally {
      if (proc.exitCode === null) proc.kill("SIGKILL");
    }
    // the port is taken now by the test's own listener: exit 1 with a clear message
    const blocker = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("x") });
    const blocked = blocker.port;
    const taken = Bun.spawnSync([process.execPath, "src/index.ts", "relay", "https://loops.example.com", "--port", String(blocked)], {
      cwd: ROOT,
      stderr: "pipe",
    });
    blocker.stop(true);
    expect(taken.exitCode).toBe(1);
    expect(taken.stderr.toString()).toContain(`port ${blocked} on 127.0.0.1 is already in use`);
  }, 30_000);
});

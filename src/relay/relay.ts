// The relay: `sidechain relay https://loops.example.com` lets the stock plugin, which only ever talks to
// http://localhost:8787 (docs/plugin-contract.md, Transport rules), use a community server elsewhere. It listens on
// loopback only (127.0.0.1 and ::1) and forwards to that one upstream:
// - HTTP, every method, streamed both ways: the request body is handed to fetch() as the stream Bun.serve gives us
//   (an upload is piped, never held), the answer's body likewise; redirects are passed on, not followed; bytes are
//   passed as they are (no decompression: Content-Encoding and Content-Length stay true). Hop-by-hop headers
//   (RFC 9110 section 7.6.1: Connection and the headers it names, Keep-Alive, TE, Trailer, Transfer-Encoding,
//   Upgrade, Proxy-*) are dropped both ways; fetch() sets Host for the upstream.
// - WebSocket (the plugin's /api/v1/ws?token=…): the upstream connection is opened first, so a refusal (bad
//   token) reaches the plugin as the upstream's own HTTP answer; then frames go both ways as they came (text stays
//   text, binary stays binary), close codes and reasons are passed through (an abnormal end, which has no code on
//   the wire, becomes 1014 "bad gateway" towards the plugin and 1001 towards the upstream), and pings are answered
//   by each hop and passed on, so both ends see the other alive.
//
// What is rewritten, and why (nothing else is):
// - The start of a provider sign-in, GET /api/v1/auth/{google|discord}, is not forwarded: the relay answers it with
//   a 302 to the same path and query on the upstream. The plugin opens that URL in the browser. The provider sends
//   the browser back to the community's own callback (its PUBLIC_URL, registered at the provider), and that
//   callback needs the flow cookie (state and PKCE verifier) the start sets. A cookie set through the relay would
//   belong to localhost and never reach the community's host, so the sign-in would always fail "not started in
//   this browser". Started at the upstream, the whole browser round trip happens there; the plugin then polls
//   /api/v1/auth/oauth/poll through the relay as usual. (A provider the upstream added later is forwarded like any
//   path, and its start would fail the same way: the list is the one this version of the server knows.)
// - Origin, when it is the relay's own (a page the upstream served through the relay), becomes the upstream's
//   origin, as the browser would have sent it had it talked to the upstream. Any other Origin passes unchanged,
//   so a foreign site's request still looks foreign to the upstream.
// - Left alone on purpose: Location headers (an absolute one names the upstream, which the plugin and the browser
//   reach directly; a relative one comes back through the relay), Set-Cookie (the server never sets Domain, so
//   cookies stay with whichever host the browser asked), and media URLs in JSON (absolute URLs of the upstream's
//   PUBLIC_URL or CDN, which the plugin fetches directly).
//
// Security: it listens on loopback only, never a wildcard address. It reaches only the configured upstream: the
// upstream URL is built by concatenation (base + path + query), never resolved, so no request target can name
// another host. Requests must carry a loopback Host (localhost, 127.0.0.1, [::1]): that refuses proxy-style
// requests (a client using it as an HTTP proxy sends the target's host, and Bun.serve hands handlers the
// origin-form path only, reading the authority from Host) and DNS-rebinding pages (their Host is their own name).
// CONNECT is refused. One log line per request, without the query string (it carries tokens).
//
// Hand-written rather than a proxy package: Bun.serve and fetch() already stream both ways with backpressure and
// Bun's WebSocket client passes any close code; what is left is the header rules above, which a package would
// not know.
import type { Server, ServerWebSocket } from "bun";
import type { Logger } from "../deps.ts";
import { createLogger } from "../log.ts";
import { PROVIDER_LABEL } from "../auth/oauth/providers.ts";

export const DEFAULT_RELAY_PORT = 8787;
/** Loopback only: the plugin connects to localhost, which resolves to either. */
export const RELAY_HOSTS = ["127.0.0.1", "::1"] as const;

/** A start refused for a reason the producer can fix (bad URL, port taken): the CLI prints it and exits. */
export class RelayError extends Error {}

export type Upstream = { origin: string; base: string; wsBase: string };

/** Checks the community URL: http(s), no credentials, query or fragment; a path prefix is kept. */
export function parseUpstream(raw: string): Upstream {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RelayError(`"${raw}" is not a URL; give the community server's address, like https://loops.example.com`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RelayError(`"${raw}" is not an http(s) URL; give the community server's address, like https://loops.example.com`);
  }
  if (url.username || url.password) throw new RelayError("The community URL must not carry a user name or password");
  if (url.search || url.hash) throw new RelayError("The community URL must not carry a query or a fragment");
  const base = url.origin + url.pathname.replace(/\/+$/, "");
  return { origin: url.origin, base, wsBase: base.replace(/^http/, "ws") };
}

// Hop-by-hop headers never cross the relay; handshake headers of a WebSocket are the upstream connection's own.
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
const WS_HANDSHAKE = ["sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol", "sec-websocket-accept"];

function endToEnd(headers: Headers, drop: readonly string[] = []): Headers {
  const out = new Headers(headers);
  for (const name of (headers.get("connection") ?? "").split(",")) if (name.trim()) out.delete(name.trim());
  for (const name of HOP_BY_HOP) out.delete(name);
  for (const name of drop) out.delete(name);
  return out;
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** The host name of a Host header without its port ("[::1]:8787" → "[::1]"). */
function hostName(host: string): string {
  const v6 = /^(\[[^\]]*\])(?::\d+)?$/.exec(host);
  if (v6) return v6[1]!.toLowerCase();
  return host.replace(/:\d+$/, "").toLowerCase();
}

const OAUTH_START = new RegExp(`^/api/v1/auth/(${Object.keys(PROVIDER_LABEL).join("|")})$`);

function failure(status: number, error: string, message: string): Response {
  return Response.json({ error, message }, { status, headers: { "cache-control": "no-store" } });
}

/** Close codes that may travel on the wire as they are; the others are replaced (see the header). */
function wireCode(code: number, abnormal: number): number | undefined {
  if (code === 1005) return undefined; // "no status": close without one
  if (code === 1000 || (code >= 1001 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)) return code;
  return abnormal;
}

type Pipe = {
  upstream: WebSocket;
  /** Frames the upstream sent before the plugin's side was open. */
  pending: (string | ArrayBuffer)[];
  /** How the upstream ended, if it did before the plugin's side opened. */
  ended?: { code: number; reason: string };
  client?: ServerWebSocket<Pipe>;
};

// A plugin that reads slower than the upstream writes (or the reverse) is cut off rather than buffered without end.
const BACKPRESSURE_LIMIT = 16 * 1024 * 1024;

export type RelayOptions = {
  /** The community server, e.g. https://loops.example.com. */
  upstream: string;
  /** Default 8787 (the plugin's); 0 picks a free port (tests). */
  port?: number;
  log?: Logger;
};

export type Relay = {
  port: number;
  /** One per loopback address listened on, e.g. http://127.0.0.1:8787 and http://[::1]:8787. */
  urls: string[];
  upstream: Upstream;
  stop(): Promise<void>;
};

export async function startRelay(opts: RelayOptions): Promise<Relay> {
  const upstream = parseUpstream(opts.upstream);
  const log = opts.log ?? createLogger("info");
  const port = opts.port ?? DEFAULT_RELAY_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RelayError(`--port wants a port number from 1 to 65535, not "${port}"`);
  let ownOrigins = new Set<string>();

  const line = (fields: Record<string, unknown>) => log.info("relay", fields);

  /** The request's end-to-end headers, its Origin made the upstream's when it is the relay's own. */
  function toUpstream(request: Request, drop: readonly string[]): Headers {
    const headers = endToEnd(request.headers, drop);
    const origin = headers.get("origin");
    if (origin && ownOrigins.has(origin.toLowerCase())) headers.set("origin", upstream.origin);
    return headers;
  }

  async function forward(request: Request, path: string, started: number): Promise<Response> {
    const headers = toUpstream(request, ["host"]);
    const hasBody = request.body !== null && request.method !== "GET" && request.method !== "HEAD";
    let answer: Response;
    try {
      answer = await fetch(`${upstream.base}${path}`, {
        method: request.method,
        headers,
        body: hasBody ? request.body : undefined,
        redirect: "manual",
        decompress: false,
        signal: request.signal,
        duplex: "half", // the body streams while the answer may start (as browsers' fetch says it)
      } as RequestInit);
    } catch (err) {
      const reason = (err as { code?: string }).code ?? (err as Error).name;
      line({ method: request.method, path: pathOnly(path), status: 502, ms: ms(started), error: reason });
      return failure(
        502,
        "upstream_unreachable",
        `The relay cannot reach ${upstream.origin} (${reason}). Is the address right, and is the community server up?`,
      );
    }
    line({ method: request.method, path: pathOnly(path), status: answer.status, ms: ms(started) });
    return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers: endToEnd(answer.headers) });
  }

  async function upgrade(request: Request, server: Server<Pipe>, path: string, started: number): Promise<Response | undefined> {
    const headers = toUpstream(request, ["host", ...WS_HANDSHAKE]);
    const protocols = (request.headers.get("sec-websocket-protocol") ?? "")
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean);
    const ws = new WebSocket(`${upstream.wsBase}${path}`, { headers: headers.toJSON(), protocols } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    const pipe: Pipe = { upstream: ws, pending: [] };
    ws.addEventListener("message", (e) => {
      if (pipe.client) sendTo(pipe.client, e.data as string | ArrayBuffer);
      else pipe.pending.push(e.data as string | ArrayBuffer);
    });
    ws.addEventListener("close", (e) => {
      if (pipe.client) closeClient(pipe.client, e.code, e.reason);
      else pipe.ended = { code: e.code, reason: e.reason };
    });
    ws.addEventListener("ping" as "open", (e: Event) => pipe.client?.ping((e as MessageEvent).data as ArrayBuffer | undefined));
    const opened = await new Promise<string | true>((resolve) => {
      ws.addEventListener("open", () => resolve(true), { once: true });
      ws.addEventListener("error", (e) => resolve((e as ErrorEvent).message ?? "error"), { once: true });
    });
    if (opened !== true) return refusedUpgrade(request, path, headers, opened, started);
    const accepted = server.upgrade(request, { data: pipe, headers: ws.protocol ? { "sec-websocket-protocol": ws.protocol } : undefined });
    line({ method: "GET", path: pathOnly(path), status: accepted ? 101 : 400, ms: ms(started), websocket: true });
    if (accepted) return undefined;
    ws.close(1001, "client handshake failed");
    return failure(400, "bad_request", "Not a valid WebSocket handshake");
  }

  /** The upstream refused the WebSocket: ask once more over plain HTTP for its answer (status and body). */
  async function refusedUpgrade(request: Request, path: string, headers: Headers, reason: string, started: number): Promise<Response> {
    const status = Number(/status code: (\d{3})/.exec(reason)?.[1] ?? 0);
    let answer: Response | undefined;
    if (status) {
      headers.set("upgrade", "websocket");
      headers.set("connection", "Upgrade");
      headers.set("sec-websocket-key", request.headers.get("sec-websocket-key") ?? "dGhlIHNhbXBsZSBub25jZQ==");
      headers.set("sec-websocket-version", "13");
      try {
        const res = await fetch(`${upstream.base}${path}`, { headers, redirect: "manual", decompress: false, signal: AbortSignal.timeout(10_000) });
        if (res.status !== 101) answer = new Response(res.body, { status: res.status, headers: endToEnd(res.headers) });
      } catch {
        /* answered below */
      }
    }
    answer ??= status
      ? failure(status, "upgrade_refused", `The community server refused the WebSocket (HTTP ${status})`)
      : failure(502, "upstream_unreachable", `The relay cannot reach ${upstream.origin} for the WebSocket. Is the community server up?`);
    line({ method: "GET", path: pathOnly(path), status: answer.status, ms: ms(started), websocket: true });
    return answer;
  }

  const fetchHandler = (request: Request, server: Server<Pipe>): Response | undefined | Promise<Response | undefined> => {
    const started = performance.now();
    if (request.method === "CONNECT") return failure(405, "method_not_allowed", "The relay is not a general proxy: it forwards only to its community server");
    const host = request.headers.get("host");
    if (!host || !LOOPBACK_NAMES.has(hostName(host))) {
      return failure(421, "misdirected_request", "The relay answers only requests addressed to localhost; it is not a general proxy");
    }
    const url = new URL(request.url);
    const path = url.pathname + url.search;
    if ((request.method === "GET" || request.method === "HEAD") && OAUTH_START.test(url.pathname)) {
      line({ method: request.method, path: url.pathname, status: 302, ms: ms(started), redirect: "upstream" });
      return new Response(null, {
        status: 302,
        headers: { location: `${upstream.base}${path}`, "cache-control": "no-store", "referrer-policy": "no-referrer" },
      });
    }
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket") return upgrade(request, server, path, started);
    return forward(request, path, started);
  };

  const websocket = {
    idleTimeout: 0, // the upstream decides when a silent plugin is gone (it closes, and the relay follows)
    sendPings: false,
    backpressureLimit: BACKPRESSURE_LIMIT,
    closeOnBackpressureLimit: true,
    open(client: ServerWebSocket<Pipe>) {
      const pipe = client.data;
      pipe.client = client;
      for (const frame of pipe.pending.splice(0)) sendTo(client, frame);
      if (pipe.ended) closeClient(client, pipe.ended.code, pipe.ended.reason);
    },
    message(client: ServerWebSocket<Pipe>, message: string | Buffer) {
      const up = client.data.upstream;
      if (up.readyState !== WebSocket.OPEN) return;
      if (up.bufferedAmount > BACKPRESSURE_LIMIT) {
        up.close(1013, "relay backpressure");
        return closeClient(client, 1013, "relay backpressure");
      }
      up.send(message);
    },
    ping(client: ServerWebSocket<Pipe>, data: Buffer) {
      const up = client.data.upstream as WebSocket & { ping?(data?: Buffer): void };
      if (up.readyState === WebSocket.OPEN) up.ping?.(data);
    },
    close(client: ServerWebSocket<Pipe>, code: number, reason: string) {
      const up = client.data.upstream;
      if (up.readyState === WebSocket.OPEN || up.readyState === WebSocket.CONNECTING) up.close(wireCode(code, 1001), reason);
    },
  };

  const servers: Server<Pipe>[] = [];
  const listen = (hostname: string, p: number) =>
    Bun.serve<Pipe>({
      hostname,
      port: p,
      // Uploads are the upstream's to limit; an upload of the plugin's largest size must pass, with room to spare.
      maxRequestBodySize: 2 ** 31,
      // Long uploads and slow answers (the upstream may take a while) must not be cut after Bun's default 10 s.
      idleTimeout: 255,
      fetch: fetchHandler,
      websocket,
    });
  try {
    for (const hostname of RELAY_HOSTS) {
      try {
        servers.push(listen(hostname, servers[0]?.port ?? port));
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        // No IPv6 on this machine: localhost then means 127.0.0.1 only, which the first listener serves.
        if (hostname === "::1" && (e.code === "EADDRNOTAVAIL" || e.code === "EAFNOSUPPORT")) {
          log.warn("relay: no IPv6 loopback here; listening on 127.0.0.1 only");
          continue;
        }
        if (e.code === "EADDRINUSE") {
          throw new RelayError(
            `port ${servers[0]?.port ?? port} on ${hostname} is already in use: is a Sidechain server or another relay running ` +
              `here? Stop it, or pick another port with --port (the stock plugin only knows 8787)`,
          );
        }
        throw err;
      }
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop(true)));
    throw err;
  }
  const actual = servers[0]!.port!;
  const urls = servers.map((s) => `http://${s.hostname?.includes(":") ? `[${s.hostname}]` : s.hostname}:${actual}`);
  ownOrigins = new Set([`http://localhost:${actual}`, ...urls]);
  if (actual === 80) for (const o of ["http://localhost", "http://127.0.0.1", "http://[::1]"]) ownOrigins.add(o);
  return {
    port: actual,
    urls,
    upstream,
    async stop() {
      await Promise.all(servers.map((s) => s.stop(true)));
    },
  };
}

function sendTo(client: ServerWebSocket<Pipe>, frame: string | ArrayBuffer) {
  client.send(typeof frame === "string" ? frame : new Uint8Array(frame));
}

function closeClient(client: ServerWebSocket<Pipe>, code: number, reason: string) {
  client.close(wireCode(code, 1014), code === 1006 || code === 1015 ? "upstream connection lost" : reason);
}

const pathOnly = (path: string) => path.split("?")[0]!;
const ms = (started: number) => Math.round((performance.now() - started) * 10) / 10;

// GET /metrics (README "Metrics") on a real server started in process: who may read it on each door, and that each
// metric family moves when its event happens, read from the exposition text as Prometheus reads it. The Grafana
// dashboard in deploy/ is checked against a real scrape, so its queries cannot name a metric that does not exist.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, parseEnv } from "../../src/config.ts";
import { lavfi, signals } from "../support/audio.ts";
import { freePort } from "../support/net.ts";
import { eventually, startRealtime, type RealtimeServer } from "../support/realtime.ts";

const TOKEN = "metrics-token-0123456789abcdef0123456789";
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

type Sample = { name: string; labels: Record<string, string>; value: number };

/** The samples of an exposition (text format 0.0.4): `name{label="value",...} number` lines; comments skipped. */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, "$1");
    samples.push({ name: m[1]!, labels, value: m[3] === "+Inf" ? Infinity : Number(m[3]) });
  }
  return samples;
}

/** The value of the sample `name` whose labels include `labels` (summed when several match; 0 when none). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

const work = mkdtempSync(join(tmpdir(), "sc-metrics-"));
let loopWav: Uint8Array<ArrayBuffer>;
beforeAll(async () => {
  loopWav = new Uint8Array(await Bun.file(await lavfi(join(work, "loop.wav"), signals.drums(2), ["-c:a", "pcm_s16le", "-f", "wav"])).arrayBuffer());
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("configuration", () => {
  const problem = (env: Record<string, string>) => {
    try {
      parseEnv(env);
      return "";
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
  };

  test("off by default; a token alone, a loopback listener alone, or both are accepted", () => {
    const e = parseEnv({});
    expect(e.METRICS_LISTEN).toBeUndefined();
    expect(e.METRICS_TOKEN).toBeUndefined();
    expect(problem({ METRICS_TOKEN: TOKEN })).toBe("");
    expect(problem({ METRICS_LISTEN: "127.0.0.1:9464" })).toBe("");
    expect(problem({ METRICS_LISTEN: "localhost:9464" })).toBe("");
    expect(problem({ METRICS_LISTEN: "[::1]:9464" })).toBe("");
    expect(problem({ METRICS_LISTEN: "0.0.0.0:9464", METRICS_TOKEN: TOKEN })).toBe("");
  });

  test("bad combinations stop the start with a message naming the variable", () => {
    expect(problem({ METRICS_LISTEN: "127.0.0.1:8787" })).toContain('METRICS_LISTEN="127.0.0.1:8787": the metrics listener needs a port of its own');
    expect(problem({ METRICS_LISTEN: "127.0.0.1:9000", PORT: "9000" })).toContain("port of its own");
    expect(problem({ METRICS_LISTEN: "0.0.0.0:9464" })).toContain("listens beyond this machine, so set METRICS_TOKEN too");
    expect(problem({ METRICS_LISTEN: "[::]:9464" })).toContain("set METRICS_TOKEN too");
    expect(problem({ METRICS_LISTEN: "127.0.0.1:70000" })).toContain("the port must be 1 to 65535");
    expect(problem({ METRICS_LISTEN: "127.0.0.1:0" })).toContain("the port must be 1 to 65535");
    expect(problem({ METRICS_LISTEN: "9464" })).toContain("METRICS_LISTEN");
    expect(problem({ METRICS_LISTEN: "http://127.0.0.1:9464/metrics" })).toContain("METRICS_LISTEN");
    expect(problem({ METRICS_TOKEN: "short" })).toContain("METRICS_TOKEN");
    expect(problem({ METRICS_TOKEN: `${"x".repeat(31)} y` })).toContain("METRICS_TOKEN");
  });
});

describe("metrics off (the default)", () => {
  test("/metrics is an unknown path, and nothing is recorded", async () => {
    const rt = await startRealtime();
    try {
      expect(rt.running.deps.metrics.enabled).toBe(false);
      expect(rt.running.metricsServer).toBeUndefined();
      const res = await fetch(`${rt.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(404);
      const docs = (await (await fetch(`${rt.url}/docs/json`)).json()) as { paths: Record<string, unknown> };
      expect(docs.paths["/metrics"]).toBeUndefined();
    } finally {
      await rt.stop();
    }
  });
});

describe("METRICS_TOKEN: /metrics on the main port behind the bearer token", () => {
  let rt: RealtimeServer;
  let now = Date.now();
  const clock = { now: () => now };
  const scrape = async () => {
    const res = await fetch(`${rt.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
    return parse(await res.text());
  };
  beforeAll(async () => {
    rt = await startRealtime({ METRICS_TOKEN: TOKEN }, { clock });
  });
  afterAll(() => rt?.stop());

  test("without the token, with a wrong one, or with the token in the query string: 401, and no figures", async () => {
    for (const init of [
      {},
      { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}x` } },
      { headers: { authorization: `Bearer ${TOKEN}x` } },
      { headers: { authorization: `Basic ${btoa(`metrics:${TOKEN}`)}` } },
      { headers: { authorization: TOKEN } },
    ]) {
      const res = await fetch(`${rt.url}/metrics`, init);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="metrics"');
      const text = await res.text();
      expect(text).not.toContain("sidechain_");
      expect(JSON.parse(text).error).toBe("unauthorized");
    }
    for (const query of [`?token=${TOKEN}`, `?access_token=${TOKEN}`, `?authorization=Bearer%20${TOKEN}`]) {
      expect((await fetch(`${rt.url}/metrics${query}`)).status).toBe(401);
    }
  });

  test("the route is in the OpenAPI document with bearer security", async () => {
    const docs = (await (await fetch(`${rt.url}/docs/json`)).json()) as { paths: Record<string, { get?: { security?: unknown } }> };
    expect(docs.paths["/metrics"]?.get?.security).toEqual([{ bearer: [] }]);
  });

  test("requests are counted by route pattern and status class, never by path", async () => {
    const before = await scrape();
    const p = await rt.producer();
    await fetch(`${rt.url}/health`);
    await fetch(`${rt.url}/health`);
    expect((await rt.get(`/api/v1/users/${p.id}`, p.token)).status).toBe(200);
    expect((await fetch(`${rt.url}/api/v1/users/01900000-0000-7000-8000-000000000000`)).status).toBe(404);
    expect((await fetch(`${rt.url}/no/such/path/${p.id}`)).status).toBe(404);
    const after = await scrape();
    const count = (s: Sample[], labels: Record<string, string>) => value(s, "sidechain_http_request_duration_seconds_count", labels);
    expect(count(after, { route: "/health", method: "GET", status: "2xx" }) - count(before, { route: "/health", method: "GET", status: "2xx" })).toBe(2);
    expect(count(after, { route: "/api/v1/users/:id", status: "2xx" })).toBe(1);
    expect(count(after, { route: "/api/v1/users/:id", status: "4xx" })).toBeGreaterThanOrEqual(1);
    expect(count(after, { route: "unmatched", status: "4xx" })).toBeGreaterThanOrEqual(1);
    expect(count(after, { route: "/api/v1/auth/register", method: "POST", status: "2xx" })).toBe(1);
    // The histogram is whole: buckets cumulative up to +Inf = _count.
    const inf = value(after, "sidechain_http_request_duration_seconds_bucket", { route: "/health", method: "GET", status: "2xx", le: "+Inf" });
    expect(inf).toBe(count(after, { route: "/health", method: "GET", status: "2xx" }));
    expect(value(after, "sidechain_http_request_duration_seconds_sum", { route: "/health" })).toBeGreaterThan(0);
    // No label anywhere carries an id, and methods come from a fixed list.
    for (const s of after) for (const v of Object.values(s.labels)) expect(v).not.toMatch(UUID);
    const methods = new Set(after.filter((s) => s.name === "sidechain_http_request_duration_seconds_count").map((s) => s.labels.method));
    for (const m of methods) expect(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"]).toContain(m!);
  });

  test("a real upload: job attempts, ffmpeg runs by stage, queue depth, media and database size", async () => {
    const p = await rt.producer();
    const before = await scrape();
    const form = new FormData();
    form.set("audio_file", new Blob([loopWav]), "loop.wav");
    form.set("bpm", "120");
    const res = await fetch(`${rt.url}/api/v1/audio/upload`, { method: "POST", body: form, headers: { authorization: `Bearer ${p.token}` } });
    expect(res.status).toBe(201);
    // Database and media figures are read at most every 10 s and once a minute: a minute later they are fresh.
    now += 61_000;
    const after = await scrape();
    const attempts = (s: Sample[]) => value(s, "sidechain_job_attempts_total", { type: "process-loop", outcome: "done" });
    expect(attempts(after) - attempts(before)).toBe(1);
    expect(value(after, "sidechain_job_duration_seconds_count", { type: "process-loop" })).toBeGreaterThanOrEqual(1);
    for (const stage of ["probe", "analyse", "encode_mp3", "encode_ogg", "verify_mp3", "verify_ogg"]) {
      const runs = (s: Sample[]) => value(s, "sidechain_ffmpeg_duration_seconds_count", { stage, result: "ok" });
      expect(runs(after) - runs(before)).toBeGreaterThanOrEqual(1);
    }
    expect(value(after, "sidechain_ffmpeg_duration_seconds_count", { tool: "ffprobe", stage: "probe" })).toBeGreaterThanOrEqual(1);
    expect(value(after, "sidechain_jobs", { type: "process-loop", status: "done" })).toBeGreaterThanOrEqual(1);
    expect(value(after, "sidechain_media_files")).toBeGreaterThan(value(before, "sidechain_media_files"));
    expect(value(after, "sidechain_media_bytes")).toBeGreaterThan(value(before, "sidechain_media_bytes") + loopWav.length / 2);
    expect(value(after, "sidechain_database_bytes", { file: "main" })).toBeGreaterThan(0);
    expect(after.some((s) => s.name === "sidechain_database_bytes" && s.labels.file === "wal")).toBe(true);
  }, 60_000);

  test("refused uploads are counted by error code, from the API and the web app", async () => {
    const p = await rt.producer();
    const before = await scrape();
    const refused = (s: Sample[], code: string) => value(s, "sidechain_uploads_refused_total", { code });
    const upload = (bytes: Uint8Array<ArrayBuffer>, token?: string) => {
      const form = new FormData();
      form.set("audio_file", new Blob([bytes]), "loop.wav");
      return fetch(`${rt.url}/api/v1/audio/upload`, { method: "POST", body: form, headers: token ? { authorization: `Bearer ${token}` } : {} });
    };
    expect((await upload(new TextEncoder().encode("this is no audio file at all, just text"), p.token)).status).toBe(415);
    expect((await upload(new Uint8Array(0), p.token)).status).toBe(422);
    expect((await upload(loopWav)).status).toBe(401);
    // The web app's upload (as its script asks, JSON), without a browser session.
    const form = new FormData();
    form.set("audio_file", new Blob([loopWav]), "loop.wav");
    expect((await fetch(`${rt.url}/upload`, { method: "POST", body: form, headers: { accept: "application/json" } })).status).toBe(401);
    const after = await scrape();
    expect(refused(after, "unsupported_format") - refused(before, "unsupported_format")).toBe(1);
    expect(refused(after, "empty_file") - refused(before, "empty_file")).toBe(1);
    expect(refused(after, "unauthorized") - refused(before, "unauthorized")).toBe(2);
  });

  test("WebSocket connections: the gauge follows connects and disconnects", async () => {
    const p = await rt.producer();
    const open = (s: Sample[]) => value(s, "sidechain_websocket_connections");
    const opened = (s: Sample[]) => value(s, "sidechain_websocket_connections_opened_total");
    const before = await scrape();
    const a = await rt.connect(p);
    const b = await rt.connect(p);
    await eventually(async () => open(await scrape()) === open(before) + 2, 5000, "two open connections");
    expect(opened(await scrape()) - opened(before)).toBe(2);
    a.ws.close();
    await eventually(async () => open(await scrape()) === open(before) + 1, 5000, "one closed");
    b.ws.close();
    await eventually(async () => open(await scrape()) === open(before), 5000, "both closed");
  });

  test("the mail outbox by status, read from the table", async () => {
    now += 11_000;
    const before = await scrape();
    await rt.producer(); // registering mails the verification link (kept in the outbox: no SMTP here)
    await rt.running.deps.mailer.idle();
    expect(value(await scrape(), "sidechain_mail_outbox", { status: "kept" })).toBe(value(before, "sidechain_mail_outbox", { status: "kept" }));
    now += 11_000; // the figures are read again at most every 10 s
    expect(value(await scrape(), "sidechain_mail_outbox", { status: "kept" }) - value(before, "sidechain_mail_outbox", { status: "kept" })).toBe(1);
  });

  test("read-cache hits and misses", async () => {
    const p = await rt.producer();
    const before = await scrape();
    const hits = (s: Sample[]) => value(s, "sidechain_read_cache_lookups_total", { cache: "feed_pages", result: "hit" });
    const misses = (s: Sample[]) => value(s, "sidechain_read_cache_lookups_total", { cache: "feed_pages", result: "miss" });
    expect((await rt.get("/api/v1/feed/global", p.token)).status).toBe(200);
    expect((await rt.get("/api/v1/feed/global", p.token)).status).toBe(200);
    const after = await scrape();
    expect(misses(after) - misses(before)).toBeGreaterThanOrEqual(1);
    expect(hits(after) - hits(before)).toBeGreaterThanOrEqual(1);
    expect(value(after, "sidechain_read_cache_lookups_total", { cache: "sessions" })).toBeGreaterThan(0);
  });

  test("the process and the instance", async () => {
    const s = await scrape();
    expect(value(s, "process_resident_memory_bytes")).toBeGreaterThan(1e6);
    expect(value(s, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(value(s, "process_start_time_seconds")).toBeGreaterThan(1.7e9);
    expect(value(s, "sidechain_info", { database: "sqlite", storage: "local" })).toBe(1);
  });

  test("deploy/grafana-dashboard.json queries only metrics a real scrape has", async () => {
    const names = new Set((await scrape()).map((s) => s.name));
    const dashboard = JSON.parse(readFileSync(join(import.meta.dir, "../../deploy/grafana-dashboard.json"), "utf8"));
    const exprs: string[] = [];
    const collect = (panel: { targets?: { expr?: string }[]; panels?: unknown[] }) => {
      for (const t of panel.targets ?? []) if (t.expr) exprs.push(t.expr);
      for (const inner of panel.panels ?? []) collect(inner as typeof panel);
    };
    for (const panel of dashboard.panels) collect(panel);
    for (const variable of dashboard.templating.list) if (variable.definition) exprs.push(variable.definition);
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    for (const expr of exprs) {
      const used = expr.match(/\b(?:sidechain|process)_[a-z0-9_]+\b/g) ?? [];
      expect(used.length).toBeGreaterThan(0);
      for (const name of used) expect([expr, names.has(name)]).toEqual([expr, true]);
    }
    // Every family the server exports is on the dashboard.
    const families = new Set([...names].map((n) => n.replace(/_(bucket|sum|count)$/, "")));
    const onBoard = exprs.join("\n");
    for (const family of families) expect([family, onBoard.includes(family)]).toEqual([family, true]);
  });
});

describe("METRICS_LISTEN: a listener of its own", () => {
  test("answers GET /metrics only; the main port has no /metrics", async () => {
    const port = await freePort();
    const rt = await startRealtime({ METRICS_LISTEN: `127.0.0.1:${port}` });
    try {
      expect(rt.running.metricsServer?.port).toBe(port);
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(parse(await res.text()).some((s) => s.name === "sidechain_info")).toBe(true);
      for (const path of ["/health", "/", "/api/v1/feed/global", "/metrics/", "/docs/json"]) {
        expect([path, (await fetch(`http://127.0.0.1:${port}${path}`)).status]).toEqual([path, 404]);
      }
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: "POST", body: "x" })).status).toBe(405);
      expect((await fetch(`${rt.url}/metrics`)).status).toBe(404);
      expect((await fetch(`${rt.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
      // Scrapes of the listener are not requests of the app.
      const again = parse(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      expect(again.filter((s) => s.labels.route === "/metrics")).toEqual([]);
    } finally {
      await rt.stop();
    }
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });

  test("with METRICS_TOKEN too, the listener asks for it", async () => {
    const port = await freePort();
    const rt = await startRealtime({ METRICS_LISTEN: `127.0.0.1:${port}`, METRICS_TOKEN: TOKEN });
    try {
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/metrics?token=${TOKEN}`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
      expect((await fetch(`${rt.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    } finally {
      await rt.stop();
    }
  });

  test("a taken METRICS_LISTEN port stops the start", async () => {
    const squatter = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("someone else") });
    try {
      await expect(startRealtime({ METRICS_LISTEN: `127.0.0.1:${squatter.port}` })).rejects.toMatchObject({ code: "EADDRINUSE" });
    } finally {
      squatter.stop(true);
    }
  });
});

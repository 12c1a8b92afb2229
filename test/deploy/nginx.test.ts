// The reverse-proxy example (deploy/nginx/sidechain.conf) run for real: Debian's nginx with that very file (only its
// ports, certificate paths, upstream port and webroot swapped for the test's, each swap checked to have matched) in
// front of a real server started in process. Through the proxy, over TLS: a page, an API call, a WAV upload above
// nginx's default 1 MB body limit, a WebSocket that receives `new_post`, and the client address the server records.
// deploy/nginx/scale-out.conf likewise, in front of two servers and a real S3-compatible server (its /cdn/).
//
// The client, nginx and the server share the loopback here, so nginx connects to the server from 127.0.0.3
// (proxy_bind, added for the test only): the server can then tell the proxy's address from the client's
// (127.0.0.1). One stack names the proxy in TRUSTED_PROXIES, one does not.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { loadConfig } from "../../src/config.ts";
import { start, type Running } from "../../src/index.ts";
import { lavfi, signals } from "../support/audio.ts";
import { freePort, waitFor } from "../support/net.ts";
import { S3RVER_KEY_ID, S3RVER_SECRET, startS3rver, type S3rverHandle } from "../support/s3.ts";

const ROOT = join(import.meta.dir, "../..");
const SNIPPET = join(ROOT, "deploy/nginx/sidechain-proxy.conf");
const NGINX = Bun.which("nginx") ?? Bun.which("nginx", { PATH: "/usr/sbin:/usr/local/sbin" });
const OPENSSL = Bun.which("openssl");
const PROXY_ADDRESS = "127.0.0.3";

/** Replaces `from` with `to` in `text`, failing when the example no longer contains `from` (the test would lie). */
function swap(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`deploy/nginx/ no longer contains ${JSON.stringify(from)}`);
  return text.split(from).join(to);
}

type Nginx = { base: string; http: string; proc: ReturnType<typeof Bun.spawn>; errorLog: string };
type Stack = Nginx & { running: Running };

const work = mkdtempSync(join(tmpdir(), "sc-nginx-"));
let cert: { crt: string; key: string; ca: string };

async function makeCertificate() {
  const crt = join(work, "cert.pem");
  const key = join(work, "key.pem");
  const subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"];
  const p = Bun.spawnSync([OPENSSL!, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", ...subject, "-keyout", key, "-out", crt], {
    stderr: "pipe",
  });
  if (p.exitCode !== 0) throw new Error(`openssl: ${p.stderr.toString()}`);
  return { crt, key, ca: await Bun.file(crt).text() };
}

/**
 * Runs nginx with a site file of deploy/nginx/ (`file`), after `swaps` and the swaps every site needs: the listen
 * ports, the certificate, the ACME webroot, and the snippet's include path (the snippet gets proxy_bind).
 */
async function startNginx(dir: string, file: string, swaps: [string, string][], httpsPort: number): Promise<Nginx> {
  mkdirSync(join(dir, "www"), { recursive: true });
  // nginx's workers run as an unprivileged user when nginx starts as root: they must reach the temp paths.
  chmodSync(work, 0o755);
  chmodSync(dir, 0o755);
  const httpPort = await freePort();
  const base = `https://127.0.0.1:${httpsPort}`;
  let site = await Bun.file(join(ROOT, "deploy/nginx", file)).text();
  for (const [from, to] of [
    ...swaps,
    [/ {4}listen 80;\n( {4}listen \[::\]:80;\n)?/.exec(site)?.[0] ?? "listen 80;", `    listen 127.0.0.1:${httpPort};\n`],
    [/ {4}listen 443 ssl http2;\n( {4}listen \[::\]:443 ssl http2;\n)?/.exec(site)?.[0] ?? "listen 443", `    listen 127.0.0.1:${httpsPort} ssl http2;\n`],
    ["/etc/letsencrypt/live/loops.example.com/fullchain.pem", cert.crt],
    ["/etc/letsencrypt/live/loops.example.com/privkey.pem", cert.key],
    ["/var/www/html", join(dir, "www")],
    ["/etc/nginx/snippets/sidechain-proxy.conf", join(dir, "sidechain-proxy.conf")],
  ] as [string, string][])
    site = swap(site, from, to);
  writeFileSync(join(dir, "site.conf"), site);
  const snippet = swap(await Bun.file(SNIPPET).text(), "\nproxy_http_version 1.1;\n", `\nproxy_http_version 1.1;\nproxy_bind ${PROXY_ADDRESS};\n`);
  writeFileSync(join(dir, "sidechain-proxy.conf"), snippet);
  const errorLog = join(dir, "error.log");
  const temp = (kind: string) => `${kind}_temp_path ${join(dir, `${kind}_temp`)};`;
  writeFileSync(
    join(dir, "nginx.conf"),
    [
      "daemon off;",
      "worker_processes 1;",
      `pid ${join(dir, "nginx.pid")};`,
      `error_log ${errorLog} info;`,
      "events { worker_connections 256; }",
      "http {",
      `  access_log ${join(dir, "access.log")};`,
      `  ${temp("client_body")} ${temp("proxy")} ${temp("fastcgi")} ${temp("uwsgi")} ${temp("scgi")}`,
      `  include ${join(dir, "site.conf")};`,
      "}",
    ].join("\n"),
  );
  const args = ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", errorLog];
  const check = Bun.spawnSync([NGINX!, "-t", ...args], { stderr: "pipe" });
  if (check.exitCode !== 0) throw new Error(`nginx -t: ${check.stderr.toString()}`);
  const proc = Bun.spawn([NGINX!, ...args], { stdout: "ignore", stderr: "pipe" });
  await waitFor(
    async () => (await fetch(`${base}/health`, { tls: { ca: cert.ca } })).ok,
    15_000,
    () => proc.exitCode !== null,
  );
  return { base, http: `http://127.0.0.1:${httpPort}`, proc, errorLog };
}

const serverConfig = (dir: string, base: string, env: Record<string, string>) =>
  loadConfig({
    DATA_DIR: join(dir, "data"),
    HOST: "127.0.0.1",
    PORT: "0",
    PUBLIC_URL: base,
    LOG_LEVEL: "error",
    UPLOAD_MAX_BYTES: String(3 * 1024 * 1024),
    UPLOAD_WAIT_MS: "60000",
    ...env,
  });

/** A server and deploy/nginx/sidechain.conf in front of it; the server's PUBLIC_URL is the proxy's. */
async function startStack(name: string, env: Record<string, string>): Promise<Stack> {
  const dir = join(work, name);
  const httpsPort = await freePort();
  const running = await start(serverConfig(dir, `https://127.0.0.1:${httpsPort}`, env));
  const nginx = await startNginx(dir, "sidechain.conf", [["server 127.0.0.1:8787;", `server 127.0.0.1:${running.server.port};`]], httpsPort);
  return { ...nginx, running };
}

async function stopNginx(n: Nginx | undefined) {
  if (!n) return;
  n.proc.kill("SIGQUIT");
  await n.proc.exited;
}

async function stopStack(s: Stack | undefined) {
  await stopNginx(s);
  await s?.running.stop();
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

const skip = !NGINX || !OPENSSL;
if (skip) console.warn(`SKIPPED test/deploy/nginx.test.ts: ${!NGINX ? "nginx" : "openssl"} is not installed (.ci/run installs nginx)`);

describe.skipIf(skip)("deploy/nginx/sidechain.conf in front of a real server", () => {
  let trusting: Stack;
  let untrusting: Stack;
  let wav: string;
  beforeAll(async () => {
    cert = await makeCertificate();
    [trusting, untrusting] = await Promise.all([startStack("trusting", { TRUSTED_PROXIES: PROXY_ADDRESS }), startStack("untrusting", { TRUSTED_PROXIES: "" })]);
    // 12 s of 16-bit stereo 44.1 kHz: 2.1 MB, twice nginx's default client_max_body_size.
    wav = await lavfi(join(work, "drums.wav"), signals.drums(12), ["-c:a", "pcm_s16le", "-f", "wav"]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([stopStack(trusting), stopStack(untrusting)]);
  });

  const get = (s: Stack, path: string, init: RequestInit = {}) => fetch(`${s.base}${path}`, { ...init, tls: { ca: cert.ca } } as RequestInit);
  const api = async (s: Stack, path: string, body: unknown, token?: string, headers: Record<string, string> = {}) => {
    const res = await get(s, path, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  let n = 0;
  const register = async (s: Stack, headers: Record<string, string> = {}) => {
    const username = `proxied${++n}`;
    const r = await api(
      s,
      "/api/v1/auth/register",
      { email: `${username}@example.com`, username, password: "correct horse battery staple" },
      undefined,
      headers,
    );
    expect(r.status).toBe(201);
    return { id: r.body.auth.user.id as string, token: r.body.auth.token as string };
  };
  const sessionIp = async (s: Stack, token: string) => {
    const res = await get(s, "/api/v1/auth/sessions", { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { sessions: { ip: string }[] }).sessions[0]!.ip;
  };

  test("plain HTTP is redirected to HTTPS; the home page and an API call come through", async () => {
    const redirect = await fetch(`${trusting.http}/l/abc?x=1`, { redirect: "manual" });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get("location")).toBe("https://127.0.0.1/l/abc?x=1");

    const page = await get(trusting, "/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("strict-transport-security")).toBe("max-age=31536000");
    expect(await page.text()).toContain("Sidechain");

    const feed = await get(trusting, "/api/v1/feed/global");
    expect(feed.status).toBe(200);
    expect(((await feed.json()) as { posts: unknown[] }).posts).toEqual([]);
  });

  test("with TRUSTED_PROXIES naming the proxy, the server records the client's address, and a forged X-Forwarded-For is ignored", async () => {
    const plain = await register(trusting);
    expect(await sessionIp(trusting, plain.token)).toBe("127.0.0.1");
    // A client claiming another address: nginx appends the real one, the right-most untrusted entry wins.
    const forged = await register(trusting, { "x-forwarded-for": "203.0.113.9" });
    expect(await sessionIp(trusting, forged.token)).toBe("127.0.0.1");
  });

  test("without TRUSTED_PROXIES the server records the proxy's address, whatever X-Forwarded-For says", async () => {
    const plain = await register(untrusting);
    expect(await sessionIp(untrusting, plain.token)).toBe(PROXY_ADDRESS);
    const forged = await register(untrusting, { "x-forwarded-for": "203.0.113.9" });
    expect(await sessionIp(untrusting, forged.token)).toBe(PROXY_ADDRESS);
  });

  test("a 2 MB WAV uploads through the proxy and a follower's WebSocket through the proxy gets new_post; its MP3 is served", async () => {
    const producer = await register(trusting);
    const follower = await register(trusting);
    expect((await api(trusting, "/api/v1/social/follow", { target_user_id: producer.id }, follower.token)).status).toBeLessThan(300);

    const ws = new WebSocket(`${trusting.base.replace(/^https/, "wss")}/api/v1/ws?token=${follower.token}`, { tls: { ca: cert.ca } } as unknown as string[]);
    const frames: { type: string; payload?: any }[] = [];
    ws.addEventListener("message", (e) => frames.push(JSON.parse(String(e.data))));
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve, { once: true });
      ws.addEventListener("error", () => reject(new Error("WebSocket through nginx did not open")), { once: true });
    });

    const file = Bun.file(wav);
    expect(file.size).toBeGreaterThan(2 * 1024 * 1024);
    const form = new FormData();
    form.set("filename", "Through the proxy");
    form.set("bpm", "120");
    form.set("audio_file", file, "loop.wav");
    const res = await get(trusting, "/api/v1/audio/upload", { method: "POST", headers: { authorization: `Bearer ${producer.token}` }, body: form });
    const post = (await res.json()) as { id: string; status: string; mp3_url: string };
    expect(res.status).toBe(201);
    expect(post.status).toBe("ready");

    await waitFor(async () => frames.some((f) => f.type === "new_post"), 15_000);
    expect(frames.find((f) => f.type === "new_post")!.payload.id).toBe(post.id);
    ws.close();

    expect(post.mp3_url.startsWith(`${trusting.base}/media/`)).toBe(true);
    const mp3 = await get(trusting, new URL(post.mp3_url).pathname);
    expect(mp3.status).toBe(200);
    expect(mp3.headers.get("content-type")).toBe("audio/mpeg");
    expect((await mp3.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
  }, 90_000);

  test("an upload above UPLOAD_MAX_BYTES passes nginx and gets the server's own 413 in the error shape", async () => {
    const producer = await register(trusting);
    const form = new FormData();
    form.set("audio_file", new Blob([new Uint8Array(4 * 1024 * 1024)], { type: "audio/wav" }), "big.wav");
    const res = await get(trusting, "/api/v1/audio/upload", { method: "POST", headers: { authorization: `Bearer ${producer.token}` }, body: form });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toBe("payload_too_large");
  });

  test("nginx logged no error while serving", async () => {
    const log = await Bun.file(trusting.errorLog).text();
    expect(log.split("\n").filter((l) => /\[(error|crit|alert|emerg)\]/.test(l))).toEqual([]);
  });
});

describe.skipIf(skip)("deploy/nginx/scale-out.conf in front of two real servers and an S3 server", () => {
  const dir = join(work, "scale-out");
  let a: Running;
  let b: Running;
  let s3: S3rverHandle;
  let proxy: Nginx;
  beforeAll(async () => {
    cert ??= await makeCertificate();
    s3 = await startS3rver("sidechain");
    const admin = new S3Client({ ...s3.options, credentials: { accessKeyId: S3RVER_KEY_ID, secretAccessKey: S3RVER_SECRET } });
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "loops/p1/peaks.json", Body: "[0,0.5,1]", ContentType: "application/json" }));
    admin.destroy();
    const httpsPort = await freePort();
    const base = `https://127.0.0.1:${httpsPort}`;
    const env = { TRUSTED_PROXIES: PROXY_ADDRESS };
    [a, b] = await Promise.all([
      start(serverConfig(join(dir, "a"), base, { ...env, INSTANCE_NAME: "Instance A" })),
      start(serverConfig(join(dir, "b"), base, { ...env, INSTANCE_NAME: "Instance B" })),
    ]);
    const s3Host = new URL(s3.endpoint).host;
    proxy = await startNginx(
      dir,
      "scale-out.conf",
      [
        ["server sidechain-a:8787 ", `server 127.0.0.1:${a.server.port} `],
        ["server sidechain-b:8787 ", `server 127.0.0.1:${b.server.port} `],
        ["proxy_pass http://minio:9000/sidechain/;", `proxy_pass ${s3.endpoint}/${s3.bucket}/;`],
        ["proxy_set_header Host minio:9000;", `proxy_set_header Host ${s3Host};`],
      ],
      httpsPort,
    );
  }, 60_000);
  afterAll(async () => {
    await stopNginx(proxy);
    await Promise.all([a?.stop(), b?.stop()]);
    await s3?.stop();
  });

  const get = (path: string, init: RequestInit = {}) => fetch(`${proxy.base}${path}`, { ...init, tls: { ca: cert.ca } } as RequestInit);

  test("requests are spread over both instances", async () => {
    const names = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const html = await (await get("/")).text();
      for (const name of ["Instance A", "Instance B"]) if (html.includes(name)) names.add(name);
    }
    expect([...names].sort()).toEqual(["Instance A", "Instance B"]);
  });

  test("/cdn/ reads objects from the bucket anonymously, and refuses anything but GET", async () => {
    const res = await get("/cdn/loops/p1/peaks.json");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("[0,0.5,1]");
    expect(res.headers.get("cache-control")).toBe("max-age=604800");
    expect((await get("/cdn/loops/p1/peaks.json", { method: "PUT", body: "overwritten" })).status).toBe(403);
    expect((await get("/cdn/loops/p1/peaks.json", { method: "DELETE" })).status).toBe(403);
    expect(await (await get("/cdn/loops/p1/peaks.json")).text()).toBe("[0,0.5,1]");
  });
});

// The release as a self-hoster gets it (README "The single binary"): `npm run build`, the archive unpacked into an
// empty directory, started with nothing on PATH (so no system ffmpeg can help): it names the bundled ffmpeg in its
// start log, is ready, and takes a real WAV upload to `ready`. Without its ffprobe it starts but says so as an error,
// /readyz answers 503 naming it, and an upload is refused with 503 ffmpeg_unavailable.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lavfi, signals } from "../support/audio.ts";
import { freePort, waitFor } from "../support/net.ts";

const ROOT = join(import.meta.dir, "../..");
const platform = `${process.platform}-${process.arch}`;
const work = mkdtempSync(join(tmpdir(), "sc-release-"));
const emptyPath = mkdtempSync(join(work, "path-")); // PATH: a directory with nothing in it
let unpacked: string;
let wav: string;

beforeAll(async () => {
  const build = Bun.spawn(["npm", "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if ((await build.exited) !== 0) throw new Error(`npm run build failed: ${await new Response(build.stderr).text()}`);
  const archive = join(ROOT, "dist", `sidechain-${platform}.tar.gz`);
  unpacked = mkdtempSync(join(work, "unpacked-"));
  expect(Bun.spawnSync(["tar", "-xzf", archive, "-C", unpacked]).exitCode).toBe(0);
  wav = await lavfi(join(work, "loop.wav"), signals.drums(4), ["-c:a", "pcm_s16le", "-f", "wav"]);
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function run(dir: string) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(work, "data-"));
  const proc = Bun.spawn([join(dir, "sidechain")], {
    cwd: mkdtempSync(join(work, "cwd-")),
    env: { PATH: emptyPath, HOME: dataDir, PORT: String(port), DATA_DIR: dataDir, HOST: "127.0.0.1" },
    stdout: "pipe",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => (await fetch(`${url}/livez`)).ok,
    30_000,
    () => proc.exitCode !== null,
  );
  const api = (path: string, init: RequestInit & { token?: string } = {}) =>
    fetch(`${url}${path}`, { ...init, headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...init.headers } });
  const register = async () => {
    const res = await api("/api/v1/auth/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "owner@example.com", username: "firstproducer", password: "correct horse battery staple" }),
    });
    return (await res.json()).auth.token as string;
  };
  const upload = (token: string) => {
    const form = new FormData();
    form.set("filename", "First loop");
    form.set("audio_file", Bun.file(wav), "loop.wav");
    return api("/api/v1/audio/upload", { method: "POST", body: form, token });
  };
  const stop = async () => {
    proc.kill("SIGTERM");
    await proc.exited;
    return (await new Response(proc.stdout).text())
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l));
  };
  return { api, register, upload, stop };
}

describe("the release archive", () => {
  test("holds the server and both tools, and nothing else", () => {
    expect(readdirSync(unpacked)).toEqual(["sidechain"]);
    expect(readdirSync(join(unpacked, "sidechain")).sort()).toEqual(["ffmpeg", "ffprobe", "sidechain"]);
    for (const f of ["ffmpeg", "ffprobe", "sidechain"]) expect(statSync(join(unpacked, "sidechain", f)).mode & 0o111).toBe(0o111);
  });

  test("started in an empty directory with nothing on PATH, it takes a real WAV upload to ready", async () => {
    const server = await run(join(unpacked, "sidechain"));
    let lines: Record<string, unknown>[] = [];
    try {
      expect((await server.api("/readyz")).status).toBe(200);
      const token = await server.register();
      const res = await server.upload(token);
      const post = await res.json();
      expect([200, 201, 202]).toContain(res.status);
      let status = post.status as string;
      await waitFor(async () => (status = (await (await server.api(`/api/v1/audio/status/${post.id}`, { token })).json()).status) !== "processing", 60_000);
      expect(status).toBe("ready");
    } finally {
      lines = await server.stop();
    }
    const tools = lines.find((l) => l.msg === "audio tools");
    expect(String(tools?.ffmpeg)).toStartWith(`${join(unpacked, "sidechain", "ffmpeg")} (`);
    expect(String(tools?.ffprobe)).toStartWith(`${join(unpacked, "sidechain", "ffprobe")} (`);
  }, 120_000);

  test("without its ffprobe it says so at start, /readyz answers 503 naming it, and uploads are refused", async () => {
    const dir = mkdtempSync(join(work, "broken-"));
    expect(Bun.spawnSync(["cp", "-a", join(unpacked, "sidechain", "sidechain"), join(unpacked, "sidechain", "ffmpeg"), dir]).exitCode).toBe(0);
    const server = await run(dir);
    let lines: Record<string, unknown>[] = [];
    try {
      const ready = await server.api("/readyz");
      expect(ready.status).toBe(503);
      expect((await ready.json()).message).toMatch(/audio \(ffprobe \(ffprobe\) does not run: .*\) failing/);
      const refused = await server.upload(await server.register());
      expect(refused.status).toBe(503);
      expect((await refused.json()).error).toBe("ffmpeg_unavailable");
    } finally {
      lines = await server.stop();
    }
    expect(lines.find((l) => String(l.msg).startsWith("audio tools"))).toMatchObject({ level: "error", problems: [expect.stringContaining("ffprobe")] });
  }, 120_000);
});

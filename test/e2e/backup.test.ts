// Backups as an operator uses them (README "Backups"): a community is seeded through the API of a real server
// process (accounts, follows, reactions, loops processed by real ffmpeg), `bun src/index.ts backup create` runs as a
// process while another producer uploads and reacts, the backup is verified and restored into an empty directory by
// the CLI, and a second server started on it answers every checked request exactly as the first did before the
// concurrent writes, with every media file there, byte for byte. Restore refuses the directory the first server uses.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listFiles } from "../../src/backup/manifest.ts";
import { bins, lavfi, signals } from "../support/audio.ts";
import { newUserInput } from "../support/auth.ts";
import { freePort, waitFor } from "../support/net.ts";

const ROOT = join(import.meta.dir, "../..");
const PUBLIC_URL = "http://loops.test"; // the same on both servers, so media URLs in answers compare equal
const work = mkdtempSync(join(tmpdir(), "sc-backup-e2e-"));
const wavs: string[] = [];

type Server = { url: string; proc: ReturnType<typeof Bun.spawn>; stop(): Promise<number> };
const servers = new Set<Server>();

beforeAll(async () => {
  for (const [i, source] of [signals.drums(3), signals.produced(3), signals.drums(2), signals.produced(2)].entries())
    wavs.push(await lavfi(join(work, `loop-${i}.wav`), source, ["-c:a", "pcm_s16le", "-f", "wav"]));
}, 60_000);

afterAll(async () => {
  for (const s of servers) await s.stop();
  rmSync(work, { recursive: true, force: true });
});

const baseEnv = (dataDir: string) => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: work,
  DATA_DIR: dataDir,
  PUBLIC_URL,
  LOG_LEVEL: "warn",
  FFMPEG_PATH: bins.ffmpeg,
  FFPROBE_PATH: bins.ffprobe,
  TMPDIR: work,
});

async function startServer(dataDir: string): Promise<Server> {
  const port = await freePort();
  const proc = Bun.spawn([process.execPath, "src/index.ts"], {
    cwd: ROOT,
    env: { ...baseEnv(dataDir), PORT: String(port) },
    stdout: "ignore",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => (await fetch(`${url}/readyz`)).ok,
    30_000,
    () => proc.exitCode !== null,
  );
  const server: Server = {
    url,
    proc,
    async stop() {
      servers.delete(server);
      proc.kill("SIGTERM");
      return proc.exited;
    },
  };
  servers.add(server);
  return server;
}

async function cli(args: string[], dataDir: string) {
  const proc = Bun.spawn([process.execPath, "src/index.ts", ...args], { cwd: ROOT, env: baseEnv(dataDir), stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

async function call(s: Server, path: string, init: RequestInit & { token?: string; json?: unknown } = {}) {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("authorization", `Bearer ${init.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  return fetch(s.url + path, { ...init, headers, body });
}

type Producer = { id: string; token: string };
async function register(s: Server, name: string): Promise<Producer> {
  const res = await call(s, "/api/v1/auth/register", { method: "POST", json: newUserInput({ username: name }) });
  expect(res.status).toBe(201);
  const { auth } = (await res.json()) as { auth: { token: string; user: { id: string } } };
  return { id: auth.user.id, token: auth.token };
}

/** Uploads a loop and waits until it is ready (the upload answers 201 ready, or 202 and the job finishes later). */
async function upload(s: Server, who: Producer, wav: string, title: string): Promise<string> {
  const form = new FormData();
  form.set("filename", title);
  form.set("audio_file", Bun.file(wav), "loop.wav");
  const res = await call(s, "/api/v1/audio/upload", { method: "POST", body: form, token: who.token });
  expect([201, 202]).toContain(res.status);
  const { id } = (await res.json()) as { id: string };
  await waitFor(async () => ((await (await call(s, `/api/v1/posts/${id}`)).json()) as { status: string }).status === "ready", 60_000);
  return id;
}

async function react(s: Server, who: Producer, postId: string, emoji: string) {
  const res = await call(s, `/api/v1/posts/${postId}/reaction`, { method: "PUT", json: { emoji }, token: who.token });
  expect(res.status).toBeLessThan(300);
}

const MEDIA_FIELDS = ["audio_url", "mp3_url", "waveform_url", "waveform_svg_url", "peaks_url"] as const;

test("a backup taken while producers upload and react restores into a server that answers the same", async () => {
  const dataA = join(work, "a");
  const a = await startServer(dataA);
  const [alice, bob, carol, dave] = [await register(a, "alice"), await register(a, "bob"), await register(a, "carol"), await register(a, "dave")];
  const loop1 = await upload(a, alice, wavs[0]!, "First light");
  const loop2 = await upload(a, bob, wavs[1]!, "Second wind");
  for (const [who, target] of [
    [carol, alice],
    [carol, bob],
    [bob, alice],
  ] as const)
    expect((await call(a, `/api/v1/users/${target.id}/follow`, { method: "PUT", token: who.token })).status).toBeLessThan(300);
  await react(a, carol, loop1, "🔥");
  await react(a, bob, loop1, "❤️");
  await react(a, alice, loop2, "🔥");

  // What the community looks like; dave's writes below touch none of it (nobody follows dave).
  const checked: [string, Producer?][] = [
    [`/api/v1/users/${alice.id}`],
    [`/api/v1/users/${bob.id}`],
    [`/api/v1/users/${carol.id}`, carol],
    [`/api/v1/posts/${loop1}`],
    [`/api/v1/posts/${loop2}`, carol],
    [`/api/v1/users/${alice.id}/posts`],
    [`/api/v1/users/${carol.id}/following`],
    [`/api/v1/users/${alice.id}/followers`],
    ["/api/v1/feed/timeline", carol],
    ["/api/v1/users/me", carol],
  ];
  const answers = async (s: Server) => {
    const out: Record<string, unknown> = {};
    for (const [path, who] of checked) {
      const res = await call(s, path, { token: who?.token });
      out[`${who ? "as viewer " : ""}${path}`] = { status: res.status, body: await res.json() };
    }
    return out;
  };
  const before = await answers(a);

  // Dave uploads and reacts while the backup runs.
  const daveDone: { post?: string; reacted?: string }[] = [];
  let writing = true;
  const writer = (async () => {
    let i = 0;
    while (writing) {
      const post = await upload(a, dave, wavs[2 + (i % 2)]!, `Noise ${i}`);
      daveDone.push({ post });
      await react(a, dave, post, "🚀");
      daveDone.push({ reacted: post });
      i++;
    }
  })();
  await waitFor(async () => daveDone.length >= 1, 60_000);
  const completedBefore = daveDone.length;
  const root = join(work, "backups");
  const created = await cli(["backup", "create", root], dataA);
  const doneAtEnd = daveDone.length;
  writing = false;
  await writer;
  expect(created.stderr).toBe("");
  expect(created.code).toBe(0);
  expect(created.stdout).toContain("Backup written to");
  const names = await listDirs(root);
  expect(names).toHaveLength(1);
  const dir = join(root, names[0]!);

  const verified = await cli(["backup", "verify", dir], dataA);
  expect(verified.code).toBe(0);
  expect(verified.stdout).toContain("every checksum matches; database integrity ok");

  // Restore refuses the directory a server runs on (and leaves it alone).
  const refused = await cli(["backup", "restore", dir], dataA);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain("is in use: server pid");
  expect((await call(a, "/readyz")).status).toBe(200);

  const dataB = join(work, "b");
  const restored = await cli(["backup", "restore", dir], dataB);
  expect(restored.stderr).toBe("");
  expect(restored.code).toBe(0);
  const b = await startServer(dataB);

  // Every checked answer is the same, signed-in ones included: sessions and the signing secret came along.
  expect(await answers(b)).toEqual(before);

  // Dave's writes finished before the backup began are in it; those after it ended are not; each loop in the copy
  // is ready and its reaction count agrees with its reactions.
  const davePosts = ((await (await call(b, `/api/v1/users/${dave.id}/posts`)).json()) as { posts: Record<string, unknown>[] }).posts;
  const restoredIds = new Set(davePosts.map((p) => p.id as string));
  for (const w of daveDone.slice(0, completedBefore)) if (w.post) expect(restoredIds.has(w.post)).toBe(true);
  for (const w of daveDone.slice(doneAtEnd)) if (w.post) expect(restoredIds.has(w.post)).toBe(false);
  for (const p of davePosts) {
    expect(p.status).toBe("ready");
    const counts = p.reaction_counts as Record<string, number>;
    expect(p.like_count).toBe(Object.values(counts).reduce((s, n) => s + n, 0));
  }

  // Every media file of every restored loop is served by the new server with the old server's bytes.
  const allPosts = [loop1, loop2, ...restoredIds];
  for (const id of allPosts) {
    const post = (await (await call(b, `/api/v1/posts/${id}`)).json()) as Record<string, string>;
    for (const field of MEDIA_FIELDS) {
      const path = post[field]!.slice(PUBLIC_URL.length);
      const [mine, theirs] = await Promise.all([fetch(b.url + path), fetch(a.url + path)]);
      expect(mine.status).toBe(200);
      expect(Buffer.from(await mine.arrayBuffer()).equals(Buffer.from(await theirs.arrayBuffer()))).toBe(true);
    }
  }
  // And the media tree: every file restored is the original's, byte for byte.
  const restoredMedia = await listFiles(join(dataB, "media"));
  expect(restoredMedia.length).toBeGreaterThan(allPosts.length * MEDIA_FIELDS.length);
  for (const rel of restoredMedia) expect(readFileSync(join(dataB, "media", rel)).equals(readFileSync(join(dataA, "media", rel)))).toBe(true);

  expect(await b.stop()).toBe(0);
  expect(await a.stop()).toBe(0);
}, 240_000);

async function listDirs(root: string): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  return (await readdir(root)).filter((n) => n.startsWith("sidechain-backup-")).sort();
}

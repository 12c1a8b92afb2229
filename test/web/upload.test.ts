// Posting a loop from the browser (docs/architecture.md "Web app"), in process with real ffmpeg and the real job:
// the form without the script (multipart POST, 303 to the status page, ready, the post exists), the script's JSON
// mode, and refusals that change nothing (no CSRF token, not audio, signed out, someone else's upload, the rate limit).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { registerProcessLoop } from "../../src/audio/process-loop.ts";
import { lavfi, signals } from "../support/audio.ts";
import { json, registerUser } from "../support/auth.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";

const work = mkdtempSync(join(tmpdir(), "sc-web-upload-"));
let wav: string;
let env: TestEnv;
let mira: Awaited<ReturnType<typeof registerUser>>;
let rival: Awaited<ReturnType<typeof registerUser>>;

async function signedIn(e: TestEnv, who: typeof mira) {
  const b = new Browser(e);
  await b.submit(await b.get("/signin"), { login: who.input.username, password: who.input.password });
  return b;
}

/** The upload form as a browser sends it: the CSRF field first, the text fields, then the file. */
function uploadForm(csrf: string | null, file: Blob, fields: Record<string, string> = {}, filename = "loop.wav") {
  const f = new FormData();
  if (csrf !== null) f.set("csrf", csrf);
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  f.set("audio_file", file, filename);
  return f;
}

const send = (b: Browser, body: FormData, headers: Record<string, string> = {}, follow = false) =>
  b.fetch("/upload", { method: "POST", body, headers }, follow);

async function counts(e: TestEnv) {
  const [p] = await e.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM posts`);
  const mediaDir = join(e.deps.config.DATA_DIR, "media");
  const files = existsSync(mediaDir) ? readdirSync(mediaDir, { recursive: true }).filter((f) => String(f).includes(".") && !String(f).startsWith(".tmp")) : [];
  return { posts: Number(p!.n), files: files.length };
}
const audioTempDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith("sidechain-audio-")).length;

beforeAll(async () => {
  wav = await lavfi(join(work, "drums.wav"), signals.drums(4), ["-c:a", "pcm_s16le", "-f", "wav"]);
  env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost" });
  registerProcessLoop(env.deps);
  await env.deps.jobs.start();
  mira = await registerUser(env, { username: "mira" });
  rival = await registerUser(env, { username: "rival" });
}, 60_000);
afterAll(() => env.close());

describe("the upload page", () => {
  test("signed out, /upload sends you to sign in and back", async () => {
    const res = await env.request("/upload");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/signin?next=%2Fupload");
  });

  test("a multipart form with the CSRF field before the file, a drop zone that takes audio, and the size limit for the script", async () => {
    const b = await signedIn(env, mira);
    const page = await b.get("/upload");
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.html).toContain('<form method="post" action="/upload" enctype="multipart/form-data"');
    expect(page.html).toContain(`data-max-bytes="${env.deps.config.UPLOAD_MAX_BYTES}"`);
    expect(page.html).toContain('accept=".wav,.aif,.aiff,.flac,.mp3,.ogg,audio/*"');
    expect(page.html.indexOf('name="csrf"')).toBeLessThan(page.html.indexOf('name="audio_file"'));
    for (const name of ["filename", "bpm", "key", "genre", "daw"]) expect(page.html).toContain(`name="${name}"`);
    expect(page.html).toContain("up to 50 MB");
    expect(page.html).toContain('href="/upload" aria-current="page"');
  });
});

describe("POST /upload", () => {
  test("without the script: 303 to the status page, which says ready and links the loop; the post is mira's, with the form's fields", async () => {
    const b = await signedIn(env, mira);
    const csrf = csrfOf(await b.get("/upload"));
    const fields = { filename: "Night drums", bpm: "92", key: "A minor", genre: "lofi, hip hop", daw: "Ableton Live" };
    const res = await send(b, uploadForm(csrf, Bun.file(wav), fields));
    expect(res.status).toBe(303);
    const location = res.headers.get("location")!;
    expect(location).toMatch(/^\/upload\/[0-9a-f-]{36}$/);
    const id = location.split("/")[2]!;
    const status = await b.get(location);
    expect(status.status).toBe(200);
    expect(status.html).toContain("Your loop is ready");
    expect(status.html).toContain(`href="/l/${id}"`);
    expect(status.html).not.toContain('http-equiv="refresh"');
    const post = await json(await env.request(`/api/v1/posts/${id}`, { token: mira.auth.token }));
    expect(post).toMatchObject({ id, status: "ready", filename: "Night drums", bpm: 92, genres: ["lofi", "hip hop"], daw: "Ableton Live" });
    expect(post.user_id).toBe(mira.auth.user.id);
    const s = await b.fetch(`/upload/${id}/status`);
    expect(JSON.parse(s.html)).toEqual({ status: "ready", progress: 100 });
  }, 60_000);

  test("the script's JSON mode: the token in x-csrf-token, answered { post_id, status, url }", async () => {
    const b = await signedIn(env, mira);
    const csrf = csrfOf(await b.get("/upload"));
    const res = await send(b, uploadForm(null, Bun.file(wav), { filename: "From the script" }), { accept: "application/json", "x-csrf-token": csrf });
    expect(res.status).toBe(201);
    const body = JSON.parse(res.html);
    expect(body).toEqual({ post_id: body.post_id, status: "ready", url: `/l/${body.post_id}` });
  }, 60_000);

  test("no CSRF token, or a wrong one: 403, no post, nothing stored, no temp files left", async () => {
    const b = await signedIn(env, mira);
    await b.get("/upload");
    const before = await counts(env);
    const temps = audioTempDirs();
    const plain = await send(b, uploadForm(null, Bun.file(wav)));
    expect(plain.status).toBe(403);
    expect(plain.html).toContain("This form has expired or did not come from this site");
    expect(plain.html).toContain('name="csrf" value="'); // a fresh form to try again
    const forged = await send(b, uploadForm("forged-token-forged-token-forged-token", Bun.file(wav)));
    expect(forged.status).toBe(403);
    const header = await send(b, uploadForm(null, Bun.file(wav)), { accept: "application/json", "x-csrf-token": "nope" });
    expect(header.status).toBe(403);
    expect(JSON.parse(header.html).error).toBe("csrf_failed");
    // A token but no cookie (another site cannot read or set ours).
    const stranger = new Browser(env);
    stranger.cookies.set("sc_session", b.cookies.get("sc_session")!);
    const noCookie = await send(stranger, uploadForm(csrfOf(await b.get("/upload")), Bun.file(wav)), { accept: "application/json" });
    expect(noCookie.status).toBe(403);
    expect(await counts(env)).toEqual(before);
    expect(audioTempDirs()).toBe(temps);
  });

  test("a text file is refused with the server's message (415 page, or the contract error in JSON), nothing stored", async () => {
    const b = await signedIn(env, mira);
    const csrf = csrfOf(await b.get("/upload"));
    const before = await counts(env);
    const text = new Blob(["just some words, not a loop\n".repeat(100)], { type: "text/plain" });
    const page = await send(b, uploadForm(csrf, text, { filename: "Notes", bpm: "120" }, "notes.txt"));
    expect(page.status).toBe(415);
    expect(page.html).toContain('role="alert"');
    expect(page.html).toMatch(/not a supported audio format|WAV, AIFF, FLAC, MP3 or Ogg/i);
    expect(page.html).toContain('value="Notes"'); // what was typed is kept
    const res = await send(b, uploadForm(csrf, text, {}, "notes.txt"), { accept: "application/json" });
    expect(res.status).toBe(415);
    expect(JSON.parse(res.html)).toMatchObject({ error: "unsupported_format" });
    expect(await counts(env)).toEqual(before);
  });

  test("a body that is not multipart is no upload form: 415 before anything else", async () => {
    const b = await signedIn(env, mira);
    const res = await b.fetch("/upload", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }, false);
    expect(res.status).toBe(415);
    expect(JSON.parse(res.html).error).toBe("unsupported_media_type");
  });

  test("bad fields: 400 with each field's message on the page", async () => {
    const b = await signedIn(env, mira);
    const csrf = csrfOf(await b.get("/upload"));
    const page = await send(b, uploadForm(csrf, Bun.file(wav), { bpm: "fast" }));
    expect(page.status).toBe(400);
    expect(page.html).toContain("A tempo as a decimal number");
    expect(page.html).toContain('value="fast"');
  });

  test("signed out: the form goes to sign in, the script gets 401; nothing is read or stored", async () => {
    const before = await counts(env);
    const anon = new Browser(env);
    const csrf = csrfOf(await anon.get("/signin"));
    const res = await send(anon, uploadForm(csrf, Bun.file(wav)));
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/signin?next=%2Fupload");
    const j = await send(anon, uploadForm(null, Bun.file(wav)), { accept: "application/json", "x-csrf-token": csrf });
    expect(j.status).toBe(401);
    expect(await counts(env)).toEqual(before);
  });

  test("someone else's upload: 404 for its status page and JSON; signed out: 401 JSON, sign in for the page", async () => {
    const b = await signedIn(env, mira);
    const csrf = csrfOf(await b.get("/upload"));
    const id = JSON.parse((await send(b, uploadForm(null, Bun.file(wav)), { accept: "application/json", "x-csrf-token": csrf })).html).post_id;
    const other = await signedIn(env, rival);
    expect((await other.get(`/upload/${id}`)).status).toBe(404);
    const s = await other.fetch(`/upload/${id}/status`);
    expect(s.status).toBe(404);
    expect(JSON.parse(s.html).error).toBe("post_not_found");
    expect((await other.get("/upload/0190aaaa-0000-7000-8000-000000000000")).html).toContain("Not found");
    const anon = await env.request(`/upload/${id}/status`);
    expect(anon.status).toBe(401);
    const page = await env.request(`/upload/${id}`);
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe(`/signin?next=${encodeURIComponent(`/upload/${id}`)}`);
  }, 60_000);
});

describe("while processing, and the rate limit", () => {
  let slow: TestEnv;
  let who: Awaited<ReturnType<typeof registerUser>>;
  beforeAll(async () => {
    // No job runner: uploads stay processing. Two uploads an hour.
    slow = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost", UPLOAD_WAIT_MS: "0", UPLOAD_RATE_PER_HOUR: "2" });
    who = await registerUser(slow, { username: "slowpoke" });
  });
  afterAll(() => slow.close());

  test("the status page refreshes itself and shows the progress; the JSON says processing; over the limit: 429 with the message", async () => {
    const b = await signedIn(slow, who);
    const csrf = csrfOf(await b.get("/upload"));
    const res = await send(b, uploadForm(null, Bun.file(wav), { filename: "Slow one" }), { accept: "application/json", "x-csrf-token": csrf });
    expect(res.status).toBe(202);
    const { post_id, status } = JSON.parse(res.html);
    expect(status).toBe("processing");
    const page = await b.get(`/upload/${post_id}`);
    expect(page.html).toContain('<meta http-equiv="refresh" content="2"/>');
    expect(page.html).toContain("Processing your loop");
    expect(page.html).toContain("Slow one");
    expect(JSON.parse((await b.fetch(`/upload/${post_id}/status`)).html)).toEqual({ status: "processing", progress: 0 });
    // A failed one says why.
    await slow.deps.database.db.run(sql`UPDATE posts SET status = 'failed', error = 'The loop is silent', error_code = 'silent' WHERE id = ${post_id}`);
    const failed = await b.get(`/upload/${post_id}`);
    expect(failed.html).toContain("could not be processed");
    expect(failed.html).toContain("The loop is silent");
    expect(JSON.parse((await b.fetch(`/upload/${post_id}/status`)).html)).toMatchObject({ status: "failed", error: "silent", message: "The loop is silent" });

    expect((await send(b, uploadForm(csrf, Bun.file(wav)))).status).toBe(303);
    const limited = await send(b, uploadForm(csrf, Bun.file(wav)));
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBeTruthy();
    expect(limited.html).toContain("Too many requests");
  }, 60_000);
});

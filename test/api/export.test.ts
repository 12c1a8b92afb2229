// "Leaving with your data" (README "Your data"): a member asks for an export, the real job runner builds the zip
// into real local storage and mails the link; the link is fetched and the zip opened with the system's `unzip`.
// The JSON is checked against what the member did through the API (follows both ways, a reaction, a play) and the
// media byte for byte against the stored originals and MP3s (real WAVs and MP3s made by ffmpeg). Then the attacks:
// a token of another purpose, another member's link, a made-up or malformed token, the zip's key through /media,
// a second request the same day, an account without email; and the expiry, after which the link is a 404 and the
// delete-export job has removed the object. The same flow runs once more against a real S3-compatible server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import { createOneTimeToken } from "../../src/auth/one-time.ts";
import { highlightStories, jobs, posts, stories, storyHighlights, users } from "../../src/db/schema.ts";
import { registerJobHandlers } from "../../src/index.ts";
import { sha256 } from "../../src/lib/crypto.ts";
import { DELETE_EXPORT, EXPORT_DATA, EXPORT_TTL_MS, exportData, exportKey } from "../../src/users/export.ts";
import { convert, lavfi, signals } from "../support/audio.ts";
import { expectError, mailTo, registerProducer, registerUser, type Producer } from "../support/auth.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { type S3rverHandle, s3StorageEnv, startS3rver } from "../support/s3.ts";
import { insertFollow, insertPost, insertReadyPost } from "../support/ready-posts.ts";

const PUBLIC_URL = "https://loops.example.com";
const work = mkdtempSync(join(tmpdir(), "sc-export-test-"));
let env: TestEnv;
let mira: Producer;
let theo: Producer;
let kai: Producer;
let wav: Uint8Array<ArrayBuffer>;
let mp3: Uint8Array<ArrayBuffer>;
const mine: string[] = [];
let theirs: string;
let pending: string;
const storyId = "0193aaaa-0000-7000-8000-00000000c0de";

const jobsOf = (type: string, e = env) => e.deps.database.db.select().from(jobs).where(eq(jobs.type, type));

/** Stores real media under a ready post's keys, as processing would have. */
async function storeMedia(postId: string, original: Uint8Array, audio: Uint8Array, e = env) {
  const [p] = await e.deps.database.db.select().from(posts).where(eq(posts.id, postId));
  await e.deps.storage.put(p!.originalKey, original);
  await e.deps.storage.put(p!.audioKey, audio);
}

/** Runs every due export job to its end, and returns the link mailed to `to` most recently. */
async function runExport(to: string, e = env): Promise<string> {
  for (const j of await jobsOf(EXPORT_DATA, e)) {
    const done = await e.deps.jobs.waitFor(j.id, 60_000);
    expect(done?.status).toBe("done");
  }
  const [mail] = await mailTo(e, to);
  const match = new RegExp(`${PUBLIC_URL.replaceAll(".", "\\.")}/export/([A-Za-z0-9_-]+)`).exec(mail?.text ?? "");
  if (!match) throw new Error(`no export link mailed to ${to}`);
  expect(mail!.html).toContain(`${PUBLIC_URL}/export/${match[1]}`);
  return match[1]!;
}

function unzip(zipPath: string, dir: string) {
  const r = Bun.spawnSync(["unzip", "-q", "-o", zipPath, "-d", dir]);
  if (r.exitCode !== 0) throw new Error(`unzip failed: ${r.stderr.toString()}`);
  return Bun.spawnSync(["unzip", "-Z1", zipPath]).stdout.toString().trim().split("\n").sort();
}

beforeAll(async () => {
  env = await createTestEnv("sqlite", { PUBLIC_URL, JOB_POLL_MS: "20" });
  registerJobHandlers(env.deps);
  await env.deps.jobs.start();
  mira = await registerProducer(env, { username: "export_mira" });
  theo = await registerProducer(env, { username: "export_theo" });
  const wavPath = await lavfi(join(work, "a.wav"), signals.drums(2), ["-c:a", "pcm_s16le", "-f", "wav"]);
  const mp3Path = await convert(wavPath, join(work, "a.mp3"), ["-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3"]);
  wav = new Uint8Array(readFileSync(wavPath));
  mp3 = new Uint8Array(readFileSync(mp3Path));
  for (const title of ["First", "Second"]) {
    const id = await insertReadyPost(env, mira.id, title);
    mine.push(id);
  }
  // Different bytes for each loop, so a mixed-up entry is noticed.
  await storeMedia(mine[0]!, wav, mp3);
  await storeMedia(mine[1]!, mp3, wav);
  pending = await insertPost(env, mira.id, "Still processing");
  theirs = await insertReadyPost(env, theo.id, "Theo's loop");
  await insertFollow(env, mira.id, theo.id);
  await insertFollow(env, theo.id, mira.id);
  const reacted = await env.request(`/api/v1/posts/${theirs}/reaction`, { method: "POST", token: mira.token, json: { emoji: "🔥" } });
  expect(reacted.status).toBe(200);
  const commented = await env.request(`/api/v1/posts/${theirs}/comments`, {
    method: "POST",
    token: mira.token,
    json: { content: "Lovely chords", at_ms: 1500 },
  });
  expect(commented.status).toBe(200);
  const played = await env.request(`/api/v1/posts/${theirs}/play`, { method: "POST", token: mira.token });
  expect(played.status).toBe(200);
  expect((await env.request(`/api/v1/posts/${theirs}/save`, { method: "POST", token: mira.token })).status).toBe(200);
  const reposted = await env.request(`/api/v1/posts/${theirs}/repost`, { method: "POST", token: mira.token, json: { quote: "Theo's best" } });
  expect(reposted.status).toBe(200);
  // Mira mutes Theo (the follow stays) and blocks Kai; Kai blocking Mira back is Kai's, not in Mira's export.
  kai = await registerProducer(env, { username: "export_kai" });
  // A story of Mira's kept in a highlight (README "Stories"), its MP3 stored as processing would have.
  const now = env.clock.now();
  const storyKey = `stories/${mira.id}/${storyId}/a.mp3`;
  await env.deps.database.db.insert(stories).values({
    id: storyId,
    userId: mira.id,
    status: "ready",
    title: "Sketch",
    originalKey: `stories/${mira.id}/${storyId}/o.wav`,
    originalFormat: "wav",
    originalBytes: wav.length,
    audioKey: storyKey,
    oggKey: `stories/${mira.id}/${storyId}/a.ogg`,
    peaksKey: `stories/${mira.id}/${storyId}/p.json`,
    waveformKey: `stories/${mira.id}/${storyId}/w.svg`,
    waveformPngKey: `stories/${mira.id}/${storyId}/w.png`,
    createdAt: now,
    expiresAt: now + 86_400_000,
    updatedAt: now,
  });
  await env.deps.storage.put(storyKey, mp3);
  await env.deps.database.db.insert(storyHighlights).values({ id: "export-highlight", userId: mira.id, name: "Jams", createdAt: now, updatedAt: now });
  await env.deps.database.db.insert(highlightStories).values({ highlightId: "export-highlight", storyId, addedAt: now });
  const muted = await env.request("/api/v1/social/mute", { method: "POST", token: mira.token, json: { target_user_id: theo.id } });
  expect(muted.status).toBe(201);
  const blocked = await env.request("/api/v1/social/block", { method: "POST", token: mira.token, json: { target_user_id: kai.id } });
  expect(blocked.status).toBe(201);
  expect((await env.request("/api/v1/social/block", { method: "POST", token: kai.token, json: { target_user_id: mira.id } })).status).toBe(201);
}, 60_000);

afterAll(async () => {
  await env?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("a member's data export", () => {
  let token: string;
  let zipBytes: Uint8Array<ArrayBuffer>;

  test("asking answers 202 queued and writes one export-data job; a second request the same day is refused", async () => {
    const res = await env.request("/api/v1/users/me/export", { method: "POST", token: mira.token });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ status: "queued" });
    await expectError(await env.request("/api/v1/users/me/export", { method: "POST", token: mira.token }), 429, "rate_limited");
    expect((await jobsOf(EXPORT_DATA)).map((j) => j.payload)).toEqual([{ userId: mira.id }]);
    await expectError(await env.request("/api/v1/users/me/export", { method: "POST" }), 401, "unauthorized");
  });

  test("the job stores the zip privately and mails a link that downloads it, never cached", async () => {
    token = await runExport(mira.email);
    const key = exportKey(mira.id, sha256(token));
    expect(await env.deps.storage.exists(key)).toBe(true);
    // One delete-export job, due at the link's expiry.
    const [del] = await jobsOf(DELETE_EXPORT);
    expect(del!.payload).toEqual({ key });
    const res = await env.request(`/export/${token}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/zip");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="sidechain-export_mira-\d{4}-\d{2}-\d{2}\.zip"$/);
    zipBytes = new Uint8Array(await res.arrayBuffer());
    expect(Number(res.headers.get("content-length"))).toBe(zipBytes.length);
    // The link works more than once while it lives.
    const again = await env.request(`/export/${token}`);
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(zipBytes);
    // The token never reaches the log: the request line names the route.
    expect(JSON.stringify(env.logs)).not.toContain(token);
    expect(env.logs.some((l) => l.msg === "request" && l.path === "/export/:token")).toBe(true);
  });

  test("the zip holds the profile, loops, stories and highlights, follows both ways, reactions and plays, and byte-identical media", async () => {
    const dir = join(work, "mira");
    await Bun.write(join(work, "mira.zip"), zipBytes);
    const names = unzip(join(work, "mira.zip"), dir);
    expect(names).toEqual(
      [
        "profile.json",
        "loops.json",
        "following.json",
        "followers.json",
        "blocked.json",
        "muted.json",
        "reactions.json",
        "saved.json",
        "reposts.json",
        "comments.json",
        "plays.json",
        "stories.json",
        "highlights.json",
        `stories/${storyId}/audio.mp3`,
        `loops/${mine[0]}/original.wav`,
        `loops/${mine[0]}/audio.mp3`,
        `loops/${mine[1]}/original.wav`,
        `loops/${mine[1]}/audio.mp3`,
      ].sort(),
    );
    const read = (name: string) => JSON.parse(readFileSync(join(dir, name), "utf8"));
    const profile = read("profile.json");
    expect(profile).toMatchObject({ id: mira.id, username: "export_mira", email: mira.email, avatar: null });
    const loops = read("loops.json");
    expect(loops.map((l: { id: string }) => l.id).sort()).toEqual([...mine, pending].sort());
    const first = loops.find((l: { id: string }) => l.id === mine[0]);
    expect(first).toMatchObject({ title: "First", status: "ready", bpm: 120, key: "Am", genres: ["lofi"] });
    expect(first.files).toEqual({ original: `loops/${mine[0]}/original.wav`, mp3: `loops/${mine[0]}/audio.mp3` });
    expect(loops.find((l: { id: string }) => l.id === pending)).toMatchObject({ status: "processing", files: { original: null, mp3: null } });
    expect(read("following.json")).toEqual([expect.objectContaining({ user_id: theo.id, username: "export_theo" })]);
    expect(read("followers.json")).toEqual([expect.objectContaining({ user_id: theo.id, username: "export_theo" })]);
    expect(read("blocked.json")).toEqual([expect.objectContaining({ user_id: kai.id, username: "export_kai", since: expect.any(String) })]);
    expect(read("muted.json")).toEqual([expect.objectContaining({ user_id: theo.id, username: "export_theo", since: expect.any(String) })]);
    expect(read("reactions.json")).toEqual([expect.objectContaining({ post_id: theirs, title: "Theo's loop", producer: "export_theo", emoji: "🔥" })]);
    expect(read("comments.json")).toEqual([
      expect.objectContaining({ post_id: theirs, title: "Theo's loop", producer: "export_theo", content: "Lovely chords", at_ms: 1500, parent_id: null }),
    ]);
    expect(read("plays.json")).toEqual([expect.objectContaining({ post_id: theirs, producer: "export_theo" })]);
    expect(read("reposts.json")).toEqual([
      expect.objectContaining({ post_id: theirs, title: "Theo's loop", producer: "export_theo", quote: "Theo's best", at: expect.any(String) }),
    ]);
    expect(read("saved.json")).toEqual([expect.objectContaining({ post_id: theirs, title: "Theo's loop", producer: "export_theo", at: expect.any(String) })]);
    expect(read("stories.json")).toEqual([expect.objectContaining({ id: storyId, title: "Sketch", files: { mp3: `stories/${storyId}/audio.mp3` } })]);
    expect(read("highlights.json")).toEqual([expect.objectContaining({ id: "export-highlight", name: "Jams", story_ids: [storyId] })]);
    const bytes = (name: string) => new Uint8Array(readFileSync(join(dir, name)));
    expect(bytes(`stories/${storyId}/audio.mp3`)).toEqual(mp3);
    expect(bytes(`loops/${mine[0]}/original.wav`)).toEqual(wav);
    expect(bytes(`loops/${mine[0]}/audio.mp3`)).toEqual(mp3);
    expect(bytes(`loops/${mine[1]}/original.wav`)).toEqual(mp3);
    expect(bytes(`loops/${mine[1]}/audio.mp3`)).toEqual(wav);
  });

  test("no other key opens it: another purpose's token, a made-up or malformed token, the object's key through /media", async () => {
    const reset = await env.deps.database.tx((tx) => createOneTimeToken(env.deps, tx, mira.id, "reset_password"));
    await expectError(await env.request(`/export/${reset}`), 404, "export_not_found");
    await expectError(await env.request(`/export/${"A".repeat(43)}`), 404, "export_not_found");
    await expectError(await env.request(`/export/${token.slice(0, 20)}`), 404, "export_not_found");
    await expectError(await env.request(`/export/${token}x`), 404, "export_not_found");
    const res = await env.request(`/media/${exportKey(mira.id, sha256(token))}`);
    expect(res.status).toBe(404);
  });

  let theoLink: string;
  test("another member's link opens their own data only", async () => {
    expect((await env.request("/api/v1/users/me/export", { method: "POST", token: theo.token })).status).toBe(202);
    const theirs = await runExport(theo.email);
    theoLink = theirs;
    expect(theirs).not.toBe(token);
    const res = await env.request(`/export/${theirs}`);
    await Bun.write(join(work, "theo.zip"), await res.arrayBuffer());
    unzip(join(work, "theo.zip"), join(work, "theo"));
    const profile = JSON.parse(readFileSync(join(work, "theo", "profile.json"), "utf8"));
    expect(profile.id).toBe(theo.id);
    expect(JSON.parse(readFileSync(join(work, "theo", "loops.json"), "utf8")).map((l: { id: string }) => l.id)).toEqual([
      (await env.deps.database.db.select({ id: posts.id }).from(posts).where(eq(posts.userId, theo.id)))[0]!.id,
    ]);
  });

  test("a password change turns the member's link off", async () => {
    expect((await env.request(`/export/${theoLink}`)).status).toBe(200);
    const changed = await env.request("/api/v1/auth/change-password", {
      method: "POST",
      token: theo.token,
      json: { current_password: "correct horse battery staple", new_password: "an entirely new passphrase 7" },
    });
    expect(changed.status).toBe(200);
    await expectError(await env.request(`/export/${theoLink}`), 404, "export_not_found");
  });

  test("an account without an email address is told so and nothing is queued", async () => {
    const nomail = await registerProducer(env, { username: "export_nomail" });
    await env.deps.database.db.update(users).set({ email: null }).where(eq(users.id, nomail.id));
    const before = (await jobsOf(EXPORT_DATA)).length;
    await expectError(await env.request("/api/v1/users/me/export", { method: "POST", token: nomail.token }), 409, "email_required");
    expect((await jobsOf(EXPORT_DATA)).length).toBe(before);
  });

  test("an export aborted (a timeout, a shutdown) mails no link and leaves no temporary file", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "sc-export-tmp-"));
    const deps = { ...env.deps, config: { ...env.deps.config, AUDIO_TMP_DIR: tmp } };
    const mails = (await mailTo(env, mira.email)).length;
    const stop = new AbortController();
    stop.abort(new Error("shutting down"));
    const job = { id: "aborted", type: EXPORT_DATA, payload: { userId: mira.id }, attempt: 1, maxAttempts: 1, createdAt: 0 };
    await expect(exportData(deps, job, stop.signal)).rejects.toThrow("shutting down");
    expect((await mailTo(env, mira.email)).length).toBe(mails);
    expect(readdirSync(tmp)).toEqual([]);
    rmSync(tmp, { recursive: true });
  });

  test("after 7 days the link is a 404 and the delete-export job has removed the zip", async () => {
    const key = exportKey(mira.id, sha256(token));
    env.clock.advance(EXPORT_TTL_MS + 1000);
    await expectError(await env.request(`/export/${token}`), 404, "export_not_found");
    const [del] = await env.deps.database.db
      .select()
      .from(jobs)
      .where(and(eq(jobs.type, DELETE_EXPORT), eq(jobs.dedupeKey, `${DELETE_EXPORT}:${key}`)));
    env.deps.jobs.wake();
    expect((await env.deps.jobs.waitFor(del!.id, 30_000))?.status).toBe("done");
    expect(await env.deps.storage.exists(key)).toBe(false);
  });
});

describe("the /settings button", () => {
  test("queues an export behind the CSRF check and the same daily limit, and says a mail is coming", async () => {
    const { input, auth } = await registerUser(env, { username: "export_web" });
    const b = new Browser(env);
    await b.submit(await b.get("/signin"), { login: input.username, password: input.password });
    const page = await b.get("/settings");
    expect(page.html).toContain('action="/settings/export"');
    const queued = async () => (await jobsOf(EXPORT_DATA)).filter((j) => (j.payload as { userId: string }).userId === auth.user.id).length;
    const forged = await b.post("/settings/export", { csrf: "forged" }, false);
    expect(forged.headers.get("location")).toStartWith("/settings?error=");
    expect(await queued()).toBe(0);
    const res = await b.post("/settings/export", { csrf: csrfOf(page) }, false);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/settings?saved=export");
    expect((await b.get("/settings?saved=export")).html).toContain("A link to download it will be mailed to you");
    expect(await queued()).toBe(1);
    const again = await b.post("/settings/export", { csrf: csrfOf(page) }, false);
    expect(again.headers.get("location")).toStartWith("/settings?error=");
    expect(await queued()).toBe(1);
    // The API shares the budget.
    await expectError(await env.request("/api/v1/users/me/export", { method: "POST", token: auth.token }), 429, "rate_limited");
  });
});

describe("with S3 storage (a real S3-compatible server)", () => {
  let s3: S3rverHandle;
  let s3env: TestEnv;
  beforeAll(async () => {
    s3 = await startS3rver("sidechain-exports");
    s3env = await createTestEnv("sqlite", {
      PUBLIC_URL,
      JOB_POLL_MS: "20",
      ...s3StorageEnv(s3),
    });
    registerJobHandlers(s3env.deps);
    await s3env.deps.jobs.start();
  }, 60_000);
  afterAll(async () => {
    await s3env?.close();
    await s3?.stop();
  });

  test("the zip goes to the bucket, streams back byte-identical media, is never redirected to by /media, and is deleted at expiry", async () => {
    const ada = await registerProducer(s3env, { username: "export_ada" });
    const loop = await insertReadyPost(s3env, ada.id, "Bucket loop");
    await storeMedia(loop, wav, mp3, s3env);
    expect((await s3env.request("/api/v1/users/me/export", { method: "POST", token: ada.token })).status).toBe(202);
    const link = await runExport(ada.email, s3env);
    const key = exportKey(ada.id, sha256(link));
    expect(await s3env.deps.storage.exists(key)).toBe(true);
    // Never a 302 to the bucket: the exports prefix is not media.
    expect((await s3env.request(`/media/${key}`)).status).toBe(404);
    const res = await s3env.request(`/export/${link}`);
    expect(res.status).toBe(200);
    await Bun.write(join(work, "ada.zip"), await res.arrayBuffer());
    unzip(join(work, "ada.zip"), join(work, "ada"));
    expect(new Uint8Array(readFileSync(join(work, "ada", `loops/${loop}/original.wav`)))).toEqual(wav);
    expect(new Uint8Array(readFileSync(join(work, "ada", `loops/${loop}/audio.mp3`)))).toEqual(mp3);
    s3env.clock.advance(EXPORT_TTL_MS);
    const [del] = await jobsOf(DELETE_EXPORT, s3env);
    s3env.deps.jobs.wake();
    expect((await s3env.deps.jobs.waitFor(del!.id, 30_000))?.status).toBe("done");
    expect(await s3env.deps.storage.exists(key)).toBe(false);
    await expectError(await s3env.request(`/export/${link}`), 404, "export_not_found");
  }, 60_000);
});

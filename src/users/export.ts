// "Leaving with your data" (README "Your data"): a member asks for everything they have put in (their profile,
// their loops' metadata with each ready loop's original and MP3, whom they follow and who follows them, whom they
// block and mute, their reactions, their comments and their plays, their stories with each one's MP3 and their
// highlights) and gets it as one zip through a mailed link.
//
//   - POST /api/v1/users/me/export (or the button on /settings) writes an export-data job; the route limit
//     "exports" allows one request per account per day.
//   - The job writes the zip to a temporary file entry by entry (the media are streamed from storage one at a time,
//     so a producer with hundreds of loops needs no more memory than one with one), stores it under the private
//     prefix exports/<user id>/, then, in one transaction, records a data_export one-time token and the mail with the
//     link `${PUBLIC_URL}/export/<token>`. The link works as many times as wanted until it expires (7 days): a
//     download that breaks halfway can be tried again. A change of password signs it out like every other token.
//   - The object's name is the token's SHA-256, which only the database knows, and /media never serves the
//     exports/ prefix (storage/keys.ts isPrivateKey); GET /export/<token> is the only way in.
//   - Before the object is stored, a delete-export job is written to run at the link's expiry, so the object never
//     outlives its link, even when the job dies between storing it and mailing it.
//
// Delivery is at least once: an attempt that dies after its transaction committed is retried and mails a second
// link to a second copy (each expires on its own). The zip is made by yazl (streaming, ZIP64 for exports over
// 4 GB); audio is stored as is (it is compressed already), the JSON files deflated.
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { asc, eq } from "drizzle-orm";
import { ZipFile } from "yazl";
import { createOneTimeToken, findLiveOneTimeToken, TOKEN_TTL_MS } from "../auth/one-time.ts";
import { message } from "../auth/mail.ts";
import type { Db } from "../db/client.ts";
import { blocks, comments, follows, mutes, plays, posts, reactions, reposts, saves, users } from "../db/schema.ts";
import { exportStories } from "../stories/service.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import type { JobInfo } from "../jobs/queue.ts";
import { randomToken, sha256 } from "../lib/crypto.ts";
import type { ObjectBody } from "../storage/index.ts";
import { type UserRow, toSelfUser } from "./service.ts";

export const EXPORT_DATA = "export-data";
export const DELETE_EXPORT = "delete-export";
export type ExportPayload = { userId: string };
export type DeleteExportPayload = { key: string };

/** How long a mailed link (and the zip behind it) lives. */
export const EXPORT_TTL_MS = TOKEN_TTL_MS.data_export;

/** Where a token's zip is stored: under the owner's private prefix, named by the token's hash. */
export const exportKey = (userId: string, tokenHash: string) => `exports/${userId}/${tokenHash}.zip`;

export function registerExportData(deps: Deps) {
  // One at a time, for up to an hour: an export reads every object of a producer and writes as much to a temporary file.
  deps.jobs.register<ExportPayload>(EXPORT_DATA, (job, ctx) => exportData(deps, job, ctx.signal), { concurrency: 1, timeoutMs: 3_600_000 });
}

export function registerDeleteExport(deps: Deps) {
  deps.jobs.register<DeleteExportPayload>(DELETE_EXPORT, (job) => deleteExport(deps, job));
}

/** Queues an export of the user's data; refused when the account has no email address to mail the link to. */
export async function requestExport(deps: Deps, user: Pick<UserRow, "id" | "email">): Promise<{ status: "queued" }> {
  if (!user.email) throw errors.conflict("email_required", "Add an email address to your account first: the download link is mailed");
  await deps.jobs.enqueue(EXPORT_DATA, { userId: user.id } satisfies ExportPayload, { dedupeKey: `${EXPORT_DATA}:${user.id}:${Bun.randomUUIDv7()}` });
  return { status: "queued" };
}

/** The stored zip a link names while the link is live, or null (unknown, expired, revoked, or its zip is gone). */
export async function openExport(deps: Deps, token: string): Promise<{ object: ObjectBody; username: string; createdAt: number } | null> {
  const row = await findLiveOneTimeToken(deps, token, "data_export");
  if (!row) return null;
  const object = await deps.storage.get(exportKey(row.userId, row.tokenHash));
  if (!object) return null;
  const [owner] = await deps.database.db.select({ username: users.username }).from(users).where(eq(users.id, row.userId));
  return owner ? { object, username: owner.username, createdAt: row.createdAt } : null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The export-data job (exported for tests). */
export async function exportData(deps: Deps, job: JobInfo<ExportPayload>, signal?: AbortSignal) {
  const { userId } = job.payload;
  const [user] = await deps.database.db.select().from(users).where(eq(users.id, userId));
  if (!user) return { skipped: "no such user" };
  if (!user.email) return { skipped: "no email address" };
  const token = randomToken();
  const key = exportKey(userId, sha256(token));
  const expiresAt = deps.clock.now() + EXPORT_TTL_MS;
  await deps.jobs.enqueue(DELETE_EXPORT, { key } satisfies DeleteExportPayload, { dedupeKey: `${DELETE_EXPORT}:${key}`, runAt: expiresAt });

  const dir = await mkdtemp(join(deps.config.AUDIO_TMP_DIR ?? tmpdir(), "sc-export-"));
  try {
    const path = join(dir, "export.zip");
    const counts = await writeZip(deps, user, path, signal);
    await deps.storage.put(key, { path }, { contentType: "application/zip", cacheControl: "private, no-store" });
    const email = user.email;
    await deps.database.tx(async (tx: Db) => {
      await createOneTimeToken(deps, tx, userId, "data_export", null, { keepOthers: true, token, expiresAt });
      await deps.mailer.send(exportMail(deps.config.PUBLIC_URL, email, user.username, token), { tx });
    });
    return counts;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The delete-export job: removes an export's zip once its link has expired. Idempotent. */
export async function deleteExport(deps: Deps, job: JobInfo<DeleteExportPayload>) {
  await deps.storage.delete(job.payload.key);
  return { deleted: job.payload.key };
}

export function exportMail(publicUrl: string, to: string, username: string, token: string) {
  return message(
    to,
    "Your Sidechain data is ready",
    [
      `Hi ${username}, the copy of your data you asked for is ready: your profile, your loops (each original and its MP3), ` +
        "whom you follow and who follows you, your reactions and your plays, in one zip file.",
      "The link works for 7 days, as many times as you need; anyone with it can download the file, so keep it to yourself.",
    ],
    { url: `${publicUrl}/export/${token}`, label: "Download my data" },
    [{ lines: ["If you did not ask for this, change your password: that also turns this link off."] }],
  );
}

/** Everything the zip holds, written to `path`; returns how many of each were written. */
async function writeZip(deps: Deps, user: UserRow, path: string, signal?: AbortSignal) {
  const db = deps.database.db;
  const userId = user.id;
  const mine = await db.select().from(posts).where(eq(posts.userId, userId)).orderBy(asc(posts.createdAt), asc(posts.id));
  // Whom they follow and who follows them: the other side of each follow, with its date.
  const people = (side: "following" | "followers") => {
    const [me, other] = side === "following" ? [follows.followerId, follows.followeeId] : [follows.followeeId, follows.followerId];
    return db
      .select({ user_id: users.id, username: users.username, display_name: users.displayName, since: follows.createdAt })
      .from(follows)
      .innerJoin(users, eq(users.id, other))
      .where(eq(me, userId))
      .orderBy(asc(follows.createdAt));
  };
  const following = await people("following");
  const followers = await people("followers");
  // Whom they block and mute (README "Blocking and muting"), with the date; never who blocks them.
  const hidden = (kind: "blocks" | "mutes") => {
    const [table, me, other, since] =
      kind === "blocks" ? [blocks, blocks.blockerId, blocks.blockedId, blocks.createdAt] : [mutes, mutes.muterId, mutes.mutedId, mutes.createdAt];
    return db
      .select({ user_id: users.id, username: users.username, display_name: users.displayName, since })
      .from(table)
      .innerJoin(users, eq(users.id, other))
      .where(eq(me, userId))
      .orderBy(asc(since));
  };
  const blocking = await hidden("blocks");
  const muting = await hidden("mutes");
  // The loops they reacted to, saved, reposted, commented on and played: the event, the loop and its producer.
  const loop = { post_id: posts.id, title: posts.title, producer: users.username };
  const producerOf = eq(users.id, posts.userId);
  /** The member's rows of one of the tables of events on loops (user_id, post_id, created_at), oldest first. */
  const onLoops = <F extends Record<string, SQLiteColumn>>(
    table: typeof reactions | typeof saves | typeof reposts | typeof comments | typeof plays,
    fields: F,
  ) =>
    db
      .select({ ...loop, ...fields })
      .from(table)
      .innerJoin(posts, eq(posts.id, table.postId))
      .innerJoin(users, producerOf)
      .where(eq(table.userId, userId))
      .orderBy(asc(table.createdAt));
  const reacted = await onLoops(reactions, { emoji: reactions.emoji, at: reactions.createdAt });
  const saved = await onLoops(saves, { at: saves.createdAt });
  const reposted = await onLoops(reposts, { quote: reposts.quote, at: reposts.createdAt });
  const commented = await onLoops(comments, {
    id: comments.id,
    parent_id: comments.parentId,
    content: comments.content,
    at_ms: comments.atMs,
    at: comments.createdAt,
  });
  const played = await onLoops(plays, { at: plays.createdAt, listen_ms: plays.listenMs });

  const zip = new ZipFile();
  const out = createWriteStream(path);
  // A failure anywhere (an object unreadable, the disk full, the job aborted at its timeout or at shutdown) stops
  // the writing; the caller removes the temporary file.
  const failed = new Promise<never>((_, reject) => {
    const fail = (err: unknown) => {
      out.destroy();
      reject(err);
    };
    zip.on("error", fail);
    zip.outputStream.on("error", fail);
    out.on("error", fail);
    if (signal?.aborted) fail(signal.reason);
    else signal?.addEventListener("abort", () => fail(signal.reason), { once: true });
  });
  // Awaited only at the end (the race below); until then a failure must not count as unhandled.
  failed.catch(() => {});
  zip.outputStream.pipe(out);
  const mtime = new Date(deps.clock.now());
  const addJson = (name: string, value: unknown) => zip.addBuffer(Buffer.from(`${JSON.stringify(value, null, 2)}\n`), name, { mtime });
  // A stored object as an entry, opened only when the zip gets to it; objects missing now are left out.
  const media: { name: string; key: string }[] = [];
  const addObject = async (name: string, key: string | null) => {
    const info = key ? await deps.storage.head(key) : null;
    if (!key || !info) return null;
    media.push({ name, key });
    zip.addReadStreamLazy(name, { mtime, compress: false, size: info.size }, (cb) => {
      deps.storage.get(key).then(
        (object) => {
          if (!object) return cb(new Error(`${key} was removed while the export was written`), undefined as never);
          const stream = Readable.fromWeb(object.body as never);
          stream.on("error", (err) => zip.emit("error", err));
          cb(null, stream);
        },
        (err) => cb(err, undefined as never),
      );
    });
    return name;
  };

  const profile = { ...(await toSelfUser(deps, user)), avatar: await addObject(`avatar.${user.avatarKey?.split(".").pop()}`, user.avatarKey) };
  addJson("profile.json", profile);
  const loops = [];
  for (const p of mine) {
    const ready = p.status === "ready";
    loops.push({
      id: p.id,
      status: p.status,
      title: p.title,
      bpm: p.bpm,
      key: p.key,
      daw: p.daw,
      genres: p.genres,
      duration_bars: p.durationBars,
      duration_seconds: p.durationSeconds,
      loudness_lufs: p.loudnessLufs,
      original_format: p.originalFormat,
      original_bytes: p.originalBytes,
      like_count: p.likeCount,
      play_count: p.playCount,
      download_count: p.downloadCount,
      created_at: iso(p.createdAt),
      ready_at: iso(p.readyAt),
      files: {
        original: ready ? await addObject(`loops/${p.id}/original.${p.originalFormat}`, p.originalKey) : null,
        mp3: ready ? await addObject(`loops/${p.id}/audio.mp3`, p.audioKey) : null,
      },
    });
  }
  addJson("loops.json", loops);
  // Stories still alive or kept in a highlight, with their MP3, and the highlights (src/stories/service.ts).
  const { stories: storyRows, highlights } = await exportStories(deps, userId);
  const storyList = [];
  for (const s of storyRows) {
    storyList.push({
      id: s.id,
      title: s.title,
      bpm: s.bpm,
      key: s.key,
      genres: s.genres,
      duration_seconds: s.durationSeconds,
      view_count: s.viewCount,
      created_at: iso(s.createdAt),
      expires_at: iso(s.expiresAt),
      files: { mp3: await addObject(`stories/${s.id}/audio.mp3`, s.audioKey) },
    });
  }
  addJson("stories.json", storyList);
  addJson("highlights.json", highlights);
  const dated = (rows: typeof following) => rows.map(({ since, ...r }) => ({ ...r, since: iso(since) }));
  addJson("following.json", dated(following));
  addJson("followers.json", dated(followers));
  addJson("blocked.json", dated(blocking));
  addJson("muted.json", dated(muting));
  // The events on others' loops, each with its moment as an ISO date.
  const events = { "reactions.json": reacted, "saved.json": saved, "reposts.json": reposted, "comments.json": commented, "plays.json": played };
  for (const [name, rows] of Object.entries(events)) {
    addJson(
      name,
      rows.map(({ at, ...r }) => ({ ...r, at: iso(at) })),
    );
  }
  zip.end();
  await Promise.race([once(out, "close"), failed]);
  return {
    loops: loops.length,
    stories: storyList.length,
    highlights: highlights.length,
    media: media.length,
    following: following.length,
    followers: followers.length,
    blocked: blocking.length,
    muted: muting.length,
    reactions: reacted.length,
    comments: commented.length,
    plays: played.length,
  };
}

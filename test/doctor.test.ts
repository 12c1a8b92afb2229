// `sidechain doctor` against the real local servers: a healthy setup (a running Sidechain server, SMTP with a
// password, an S3-compatible bucket, Redis, the Stream stand-in) is all ok with exit code 0; then each thing broken in
// turn makes its own row an error (or a warning) with a fix, and the exit code 1.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TCPSocketListener } from "bun";
import { sql } from "drizzle-orm";
import { loadConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/client.ts";
import { applyMigrations, MIGRATIONS } from "../src/db/migrate.ts";
import { start, type Running } from "../src/index.ts";
import { STREAM_MIRROR } from "../src/integrations/stream.ts";
import { type DoctorRow, formatRows, redactUrl, runDoctor } from "../src/system/doctor.ts";
import { sidechain } from "./support/cli.ts";
import { freePort } from "./support/net.ts";
import { startRedis, type RedisServer } from "./support/redis.ts";
import { s3StorageEnv, startS3rver, type S3rverHandle } from "./support/s3.ts";
import { startSmtpStandIn, type SmtpStandIn } from "./support/smtp.ts";
import { startSqld } from "./support/sqld.ts";
import { startFakeStream, type FakeStream } from "./support/stream-server.ts";

const SMTP_AUTH = { user: "mailer", pass: "s3cret-pass" };
const STREAM = { apiKey: "doctor-key", secret: "doctor-secret-that-is-long-enough" };

let dataDir: string;
let smtp: SmtpStandIn;
let s3: S3rverHandle;
let redis: RedisServer;
let stream: FakeStream;
let server: Running;
let healthy: Record<string, string>;
const dirs: string[] = [];

const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "sc-doctor-"));
  dirs.push(dir);
  return dir;
};

beforeAll(async () => {
  dataDir = tempDir();
  smtp = startSmtpStandIn(0, { auth: SMTP_AUTH });
  s3 = await startS3rver("doctor-bucket");
  redis = await startRedis();
  stream = await startFakeStream(STREAM);
  const port = await freePort();
  healthy = {
    DATA_DIR: dataDir,
    HOST: "127.0.0.1",
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: "error",
    SMTP_URL: smtp.url.replace("smtp://", `smtp://${SMTP_AUTH.user}:${SMTP_AUTH.pass}@`),
    ...s3StorageEnv(s3),
    REDIS_URL: redis.url,
    STREAM_API_KEY: STREAM.apiKey,
    STREAM_API_SECRET: STREAM.secret,
    STREAM_BASE_URL: stream.url,
    GOOGLE_CLIENT_ID: "google-id",
    GOOGLE_CLIENT_SECRET: "google-secret",
    DISCORD_CLIENT_ID: "discord-id",
    DISCORD_CLIENT_SECRET: "discord-secret",
  };
  server = await start(loadConfig(healthy));
});

afterAll(async () => {
  await server?.stop();
  smtp?.down();
  await s3?.stop();
  await redis?.stop();
  await stream?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const rowOf = (rows: DoctorRow[], check: string) => {
  const row = rows.find((r) => r.check === check);
  if (!row) throw new Error(`no row ${check} in ${JSON.stringify(rows)}`);
  return row;
};

/** The doctor on the healthy configuration with `change` applied (a variable set to undefined is removed). */
async function doctor(change: Record<string, string | undefined>, opts = {}) {
  const env: Record<string, string | undefined> = { ...healthy, ...change };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return runDoctor(env, opts);
}

/** A database as a newer Sidechain left it: this binary's migrations and one more. */
async function migrateWithFutureEntry(env: Record<string, string>) {
  const database = openDatabase(loadConfig(env));
  try {
    await applyMigrations(database);
    await database.db.run(sql`INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('feedf00d', 4102444800000)`);
  } finally {
    await database.close();
  }
}

describe("sidechain doctor", () => {
  test("mirror jobs that gave up make the stream mirror row a warning, with the way to retry them", async () => {
    // Not due for an hour (the running server does not claim it), then marked as one that gave up.
    const { job } = await server.deps.jobs.enqueue(
      STREAM_MIRROR,
      { kind: "user", userId: "gone", key: "stream:user:gone:1" },
      { runAt: server.deps.clock.now() + 3_600_000 },
    );
    await server.deps.database.db.run(sql`UPDATE jobs SET status = 'failed', last_error = 'Stream error code 5' WHERE id = ${job.id}`);
    try {
      const result = await doctor({});
      expect(rowOf(result.rows, "stream mirror")).toMatchObject({
        status: "warning",
        detail: expect.stringMatching(/jobs: .*1 failed.*: 1 gave up after about a week of retries$/),
        fix: expect.stringContaining("/admin/jobs"),
      });
      expect(result.exitCode).toBe(0);
    } finally {
      await server.deps.database.db.run(sql`DELETE FROM jobs WHERE id = ${job.id}`);
    }
    // Without Stream there is no such row.
    expect((await doctor({ STREAM_API_KEY: undefined, STREAM_API_SECRET: undefined })).rows.some((r) => r.check === "stream mirror")).toBe(false);
  });

  test("a healthy setup: every row ok, printed as a table, exit code 0", async () => {
    const result = await sidechain(healthy as Record<string, string>, "doctor");
    expect(result.err).toBe("");
    expect(result.code).toBe(0);
    const lines = result.out.split("\n");
    expect(lines[0]).toMatch(/^STATUS +CHECK +RESULT$/);
    for (const check of ["configuration", "data dir", "secrets", "database", "audio tools", "public url", "mail (smtp)", "storage", "redis", "stream"])
      expect(lines.some((l) => new RegExp(`^ok +${check.replace(/[()]/g, "\\$&")} {2,}\\S`).test(l))).toBe(true);
    expect(result.out).not.toContain("fix:");
    expect(result.out).toContain("13 ok, 0 warnings, 0 errors");
    // The server started with Stream on, so it queued the backfill of its (empty) community.
    expect(result.out).toMatch(/^ok +stream mirror +backfill (done|users|posts|follows|reactions) .*; jobs: /m);
    expect(result.out).toContain(`${healthy.PUBLIC_URL}/livez answers 200`);
    expect(result.out).toContain(`signed in as ${SMTP_AUTH.user}; no mail sent`);
    expect(result.out).not.toContain(SMTP_AUTH.pass);
    expect(result.out).toContain("put, get and delete of a probe object under doctor/ worked");
    expect(result.out).toContain("PING answered, a message published on a probe channel arrived");
    expect(result.out).toContain(`app ${STREAM.apiKey} at ${stream.url}: an authenticated read worked (6 feed groups)`);
    expect(result.out).toContain(`the redirect URI registered with Google must be ${healthy.PUBLIC_URL}/api/v1/auth/google/callback`);
    expect(result.out).toContain(`the redirect URI registered with Discord must be ${healthy.PUBLIC_URL}/api/v1/auth/discord/callback`);
    expect(result.out).toMatch(new RegExp(`schema current \\(${MIGRATIONS.length} migrations, last ${MIGRATIONS.at(-1)!.tag}\\)`));
    expect(result.out).toMatch(/ffmpeg \S+ \(\S+\), ffprobe \S+ \(\S+\): every encoder, filter and format the pipeline uses/);
    // Nothing was sent, nothing left behind.
    expect(smtp.received).toEqual([]);
    const listed = await s3.client().send(new (await import("@aws-sdk/client-s3")).ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "doctor/" }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  test("`bun src/index.ts doctor` runs it as a process, with the same exit code", async () => {
    const proc = Bun.spawn([process.execPath, "src/index.ts", "doctor"], {
      cwd: join(import.meta.dir, ".."),
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir(), ...healthy, REDIS_URL: `redis://127.0.0.1:${await freePort()}` },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, out] = await Promise.all([proc.exited, new Response(proc.stdout).text()]);
    expect(code).toBe(1);
    expect(out).toMatch(/^error +redis +redis:\/\/127\.0\.0\.1:\d+: /m);
    expect(out).toContain("1 error");
  });

  test("SMTP on a wrong port, or with a wrong password, is an error with its fix", async () => {
    const closed = await doctor({ SMTP_URL: `smtp://127.0.0.1:${await freePort()}` });
    expect(closed.exitCode).toBe(1);
    expect(rowOf(closed.rows, "mail (smtp)")).toMatchObject({ status: "error", fix: expect.stringContaining("SMTP_URL") });
    expect(rowOf(closed.rows, "mail (smtp)").detail).toContain("ECONNREFUSED");

    const wrong = await doctor({ SMTP_URL: healthy.SMTP_URL!.replace(SMTP_AUTH.pass, "wrong-pass") });
    expect(wrong.exitCode).toBe(1);
    expect(rowOf(wrong.rows, "mail (smtp)")).toMatchObject({ status: "error" });
    expect(rowOf(wrong.rows, "mail (smtp)").detail).toContain("535");
    expect(smtp.received).toEqual([]);
  });

  test("without SMTP_URL, mail stays in the outbox: a warning, not an error", async () => {
    const result = await doctor({ SMTP_URL: undefined });
    expect(result.exitCode).toBe(0);
    expect(rowOf(result.rows, "mail (smtp)")).toMatchObject({ status: "warning", fix: expect.stringContaining("sidechain mail list") });
  });

  test("S3 with a bucket that does not exist, or a server that is not there, is an error", async () => {
    const bucket = await doctor({ S3_BUCKET: "no-such-bucket" });
    expect(bucket.exitCode).toBe(1);
    expect(rowOf(bucket.rows, "storage")).toMatchObject({ status: "error", fix: expect.stringContaining("S3_BUCKET") });
    expect(rowOf(bucket.rows, "storage").detail).toContain("s3 bucket no-such-bucket");

    const gone = await doctor({ S3_ENDPOINT: `http://127.0.0.1:${await freePort()}` });
    expect(gone.exitCode).toBe(1);
    expect(rowOf(gone.rows, "storage").status).toBe("error");
  });

  test("Redis that does not answer is an error", async () => {
    const result = await doctor({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(result.exitCode).toBe(1);
    expect(rowOf(result.rows, "redis")).toMatchObject({ status: "error", fix: expect.stringContaining("REDIS_URL") });
  });

  test("Stream with a wrong secret is an error; with half the credentials too", async () => {
    const result = await doctor({ STREAM_API_SECRET: "not-the-secret-of-this-app-at-all" });
    expect(result.exitCode).toBe(1);
    expect(rowOf(result.rows, "stream")).toMatchObject({ status: "error", fix: expect.stringContaining("STREAM_API_SECRET") });
    expect(rowOf(result.rows, "stream").detail).toContain("token signature is invalid");

    const half = await doctor({ STREAM_API_SECRET: undefined });
    expect(rowOf(half.rows, "stream")).toMatchObject({ status: "error", detail: expect.stringContaining("only one of") });
    const off = await doctor({ STREAM_API_KEY: undefined, STREAM_API_SECRET: undefined, STREAM_BASE_URL: undefined });
    expect(rowOf(off.rows, "stream")).toMatchObject({ status: "ok", detail: "not configured: the Stream.io mirror is off" });
  });

  test("a missing ffmpeg is an error naming it", async () => {
    const result = await doctor({ FFMPEG_PATH: "/nonexistent/ffmpeg" });
    expect(result.exitCode).toBe(1);
    const row = rowOf(result.rows, "audio tools");
    expect(row).toMatchObject({ status: "error", fix: expect.stringContaining("FFMPEG_PATH") });
    expect(row.detail).toContain("/nonexistent/ffmpeg");
  });

  test("a DATA_DIR that cannot be written, or is not a directory, is an error", async () => {
    // /proc/self is a directory no one (root included) can create files in.
    const unwritable = await doctor({ DATA_DIR: "/proc/self" });
    expect(unwritable.exitCode).toBe(1);
    expect(rowOf(unwritable.rows, "data dir")).toMatchObject({ status: "error", detail: expect.stringContaining("/proc/self is not writable") });

    const file = join(tempDir(), "a-file");
    writeFileSync(file, "not a directory");
    const notDir = await doctor({ DATA_DIR: file });
    expect(rowOf(notDir.rows, "data dir")).toMatchObject({ status: "error", detail: `${file} is not a directory` });

    const missing = await doctor({ DATA_DIR: join(tempDir(), "not-yet") });
    expect(rowOf(missing.rows, "data dir").status).toBe("warning");
    expect(rowOf(missing.rows, "database")).toMatchObject({ status: "ok", detail: expect.stringContaining("no database yet") });
  });

  test("the signing key: from the environment, not made yet, or a damaged secrets.json (an error)", async () => {
    const fromEnv = await doctor({ JWT_SECRET: "x".repeat(32) });
    expect(rowOf(fromEnv.rows, "secrets")).toMatchObject({ status: "ok", detail: expect.stringContaining("from the environment") });
    const fresh = await doctor({ DATA_DIR: tempDir() });
    expect(rowOf(fresh.rows, "secrets")).toMatchObject({ status: "ok", detail: expect.stringContaining("is not made yet") });
    const damaged = tempDir();
    writeFileSync(join(damaged, "secrets.json"), '{"JWT_SECRET": "short"}');
    const result = await doctor({ DATA_DIR: damaged });
    expect(result.exitCode).toBe(1);
    expect(rowOf(result.rows, "secrets")).toMatchObject({
      status: "error",
      detail: expect.stringContaining("is unreadable or damaged, so the server refuses to start"),
      fix: expect.stringContaining("restore it from a backup"),
    });
  });

  test("little free space in DATA_DIR is a warning, too little an error", async () => {
    const low = await doctor({}, { warnFreeBytes: Number.MAX_SAFE_INTEGER });
    expect(rowOf(low.rows, "data dir")).toMatchObject({ status: "warning", fix: expect.stringContaining("free space") });
    const none = await doctor({}, { warnFreeBytes: Number.MAX_SAFE_INTEGER, errorFreeBytes: Number.MAX_SAFE_INTEGER });
    expect(rowOf(none.rows, "data dir").status).toBe("error");
    expect(none.exitCode).toBe(1);
  });

  test("a database a newer Sidechain migrated is an error; migrations pending a warning", async () => {
    const future = { DATA_DIR: tempDir() };
    await migrateWithFutureEntry(future);
    const result = await doctor(future);
    expect(result.exitCode).toBe(1);
    expect(rowOf(result.rows, "database")).toMatchObject({ status: "error", fix: expect.stringContaining('README "Upgrading"') });
    expect(rowOf(result.rows, "database").detail).toContain("was migrated by a newer Sidechain: 1 migration(s) this binary does not know");

    const old = { DATA_DIR: tempDir() };
    const database = openDatabase(loadConfig(old));
    await applyMigrations(database, MIGRATIONS.slice(0, -1));
    await database.close();
    const pending = await doctor(old);
    expect(rowOf(pending.rows, "database")).toMatchObject({
      status: "warning",
      detail: expect.stringContaining(`1 migration(s) pending (${MIGRATIONS.at(-1)!.tag})`),
      fix: expect.stringContaining("the server applies them at start, backing the database up first"),
    });
  });

  test("a libSQL server: ok when current, an error when it is down or newer", async () => {
    const sqld = await startSqld();
    try {
      const env = { DATA_DIR: tempDir(), DATABASE_URL: sqld.url };
      const empty = await doctor(env);
      expect(rowOf(empty.rows, "database")).toMatchObject({ status: "ok", detail: expect.stringContaining("reachable and empty") });
      await migrateWithFutureEntry(env);
      const newer = await doctor(env);
      expect(rowOf(newer.rows, "database")).toMatchObject({ status: "error", detail: expect.stringContaining(`the libSQL server ${sqld.url}`) });
    } finally {
      await sqld.stop();
    }
    const down = await doctor({ DATA_DIR: tempDir(), DATABASE_URL: sqld.url });
    expect(down.exitCode).toBe(1);
    expect(rowOf(down.rows, "database")).toMatchObject({ status: "error", fix: expect.stringContaining("start the libSQL server") });
  });

  test("a PUBLIC_URL nothing answers is a warning that says the server may simply not run", async () => {
    const result = await doctor({ PUBLIC_URL: `http://127.0.0.1:${await freePort()}` });
    expect(result.exitCode).toBe(0);
    expect(rowOf(result.rows, "public url")).toMatchObject({
      status: "warning",
      detail: expect.stringContaining("is not reachable from this machine"),
      fix: expect.stringContaining("start the server if it is not running now"),
    });
    const other = await doctor({ PUBLIC_URL: `${stream.url}/elsewhere` });
    expect(rowOf(other.rows, "public url")).toMatchObject({ status: "warning", detail: expect.stringContaining("answers 401") });
  });

  test("OAuth: half a client is an error; none names the redirect URI to register", async () => {
    const result = await doctor({ GOOGLE_CLIENT_SECRET: undefined, DISCORD_CLIENT_ID: undefined, DISCORD_CLIENT_SECRET: undefined });
    expect(result.exitCode).toBe(1);
    expect(rowOf(result.rows, "sign-in: google")).toMatchObject({ status: "error", detail: "only GOOGLE_CLIENT_ID is set: Google sign-in is off" });
    expect(rowOf(result.rows, "sign-in: discord")).toMatchObject({
      status: "ok",
      detail: expect.stringContaining(`register ${healthy.PUBLIC_URL}/api/v1/auth/discord/callback as the redirect URI`),
    });
  });

  test("a server that accepts and never answers makes a row when the time is up, not a hang", async () => {
    const silent: TCPSocketListener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const result = await doctor({ SMTP_URL: `smtp://127.0.0.1:${silent.port}`, REDIS_URL: `redis://127.0.0.1:${silent.port}` }, { timeoutMs: 500 });
      expect(rowOf(result.rows, "mail (smtp)").status).toBe("error");
      expect(rowOf(result.rows, "redis").status).toBe("error");
      expect(result.exitCode).toBe(1);
    } finally {
      silent.stop(true);
    }
  });

  test("a configuration that does not parse is the one row, exit code 2; arguments are refused", async () => {
    const result = await sidechain({ ...healthy, PORT: "not-a-port" } as Record<string, string>, "doctor");
    expect(result.code).toBe(2);
    expect(result.out).toMatch(/^error +configuration +invalid configuration:/m);
    expect(result.out).toContain("PORT=");
    expect(result.out).toContain("0 ok, 0 warnings, 1 error");

    const args = await sidechain(healthy as Record<string, string>, "doctor", "--now");
    expect(args.code).toBe(2);
    expect(args.err).toContain("takes no arguments");
  });

  test("passwords in URLs are never printed", () => {
    expect(redactUrl("smtp://user:pw@mail.example.com:587")).toBe("smtp://user:***@mail.example.com:587");
    expect(redactUrl("redis://:pw@127.0.0.1:6379")).toBe("redis://:***@127.0.0.1:6379");
    expect(redactUrl("not a url://a:b@c")).toBe("not a url://a:***@c");
    expect(formatRows([{ status: "warning", check: "x", detail: "d", fix: "f" }])).toEqual([
      "STATUS  CHECK  RESULT",
      "warning x      d",
      "               fix: f",
      "",
      "0 ok, 1 warning, 0 errors",
    ]);
  });
});

// `sidechain doctor` (README "Checking a setup: sidechain doctor"): with the server's configuration, checks what a
// start needs and what the server talks to, one row each: ok, warning or error, and for anything not ok the fix.
// It changes nothing it does not put back: DATA_DIR gets a probe file (removed), the bucket a probe object under
// doctor/ (deleted), Redis a message on a probe channel; the database is only read, and only opened when it exists.
// Every check has a time limit, so a dead server makes a row instead of a hang.
import { existsSync, readFileSync, statSync } from "node:fs";
import { statfs, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import nodemailer from "nodemailer";
import { ConfigError, type Config, configOf, parseEnv } from "../config.ts";
import { openDatabase, sqlitePath } from "../db/client.ts";
import { describeUnknown, MIGRATIONS, migrationNames, migrationStatus } from "../db/migrate.ts";
import { resolveBinaries } from "../audio/ffmpeg.ts";
import { checkAudioTools } from "../audio/tools.ts";
import { createStorage, newKey, storageOptionsFromConfig } from "../storage/index.ts";
import { streamClient, streamEnabled } from "../integrations/stream.ts";
import { streamStatus } from "../integrations/stream-backfill.ts";
import { PROVIDER_LABEL, PROVIDERS, redirectUri } from "../auth/oauth/providers.ts";
import { errorMessage } from "../log.ts";
import { withTimeout } from "../lib/limit.ts";

export type DoctorStatus = "ok" | "warning" | "error";
export type DoctorRow = { status: DoctorStatus; check: string; detail: string; fix?: string };
type DoctorConfig = Omit<Config, "JWT_SECRET">;

export type DoctorOptions = {
  /** How long one check may take (default 5 s). */
  timeoutMs?: number;
  /** Free space in DATA_DIR below which the row is a warning (default 1 GiB) and an error (default 100 MiB). */
  warnFreeBytes?: number;
  errorFreeBytes?: number;
};

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const DEFAULTS = { timeoutMs: 5_000, warnFreeBytes: GIB, errorFreeBytes: 100 * MIB };

const ok = (check: string, detail: string): DoctorRow => ({ status: "ok", check, detail });
const warning = (check: string, detail: string, fix: string): DoctorRow => ({ status: "warning", check, detail, fix });
const error = (check: string, detail: string, fix: string): DoctorRow => ({ status: "error", check, detail, fix });

/** "1.5 GiB", "80.0 MiB". */
const size = (bytes: number) => (bytes >= GIB ? `${(bytes / GIB).toFixed(1)} GiB` : `${(bytes / MIB).toFixed(1)} MiB`);

/** A URL as it may be printed: the password replaced by "***". */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString().replace(/\/$/, "");
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, "//$1:***@");
  }
}

/** Runs a check; one that throws is an error row with `fix`, one that takes longer than `ms` an error row too. */
async function timed(check: string, ms: number, fix: string, run: () => Promise<DoctorRow | DoctorRow[]>): Promise<DoctorRow[]> {
  try {
    return [await withTimeout(run(), ms)].flat();
  } catch (err) {
    return [error(check, errorMessage(err), fix)];
  }
}

/** Every check, in the order they are printed. A configuration that does not parse is the only row. */
export async function runDoctor(env: Record<string, string | undefined>, opts: DoctorOptions = {}): Promise<{ rows: DoctorRow[]; exitCode: number }> {
  const o = { ...DEFAULTS, ...opts };
  let config: DoctorConfig;
  try {
    config = configOf(parseEnv(env));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { rows: [error("configuration", err.message, 'correct the variables named above (README "Configuration")')], exitCode: 2 };
  }
  const t = o.timeoutMs;
  const rows = (
    await Promise.all([
      [
        ok(
          "configuration",
          `parsed: PUBLIC_URL ${config.PUBLIC_URL}, DATA_DIR ${config.DATA_DIR}, database ${config.DATABASE_KIND}, storage ${config.STORAGE}`,
        ),
      ],
      timed("data dir", t, "give the server's user write access to DATA_DIR, or point DATA_DIR at a directory it can write", () => checkDataDir(config, o)),
      [checkSecrets(config, Boolean(env.JWT_SECRET))],
      timed("database", t, databaseFix(config), () => checkDatabase(config)),
      timed("audio tools", t, AUDIO_FIX, () => checkAudio(config)),
      timed("public url", t, PUBLIC_URL_FIX, () => checkPublicUrl(config, t)),
      timed("mail (smtp)", t, "check the host, port, user and password in SMTP_URL, and that the mail server is up", () => checkSmtp(config, t)),
      timed("storage", t, "check S3_BUCKET, S3_ENDPOINT, S3_REGION and the credentials, and that they may put, get and delete objects", () =>
        checkStorage(config),
      ),
      timed("redis", t, "start Redis, or correct REDIS_URL (host, port, password)", () => checkRedis(config, t)),
      timed("stream", t, "check STREAM_API_KEY and STREAM_API_SECRET (and STREAM_BASE_URL) against the app's keys in Stream's dashboard", () =>
        checkStream(config),
      ),
      timed("stream mirror", t, databaseFix(config), () => checkStreamMirror(config)),
      PROVIDERS.map((name) => checkOauth(config, name)),
    ])
  ).flat();
  return { rows, exitCode: rows.some((r) => r.status === "error") ? 1 : 0 };
}

async function checkDataDir(config: DoctorConfig, o: typeof DEFAULTS): Promise<DoctorRow> {
  const dir = config.DATA_DIR;
  const check = "data dir";
  if (!existsSync(dir)) {
    return warning(check, `${dir} does not exist yet`, "the server creates it at its first start; create it yourself if the server's user cannot");
  }
  if (!statSync(dir).isDirectory())
    return error(check, `${dir} is not a directory`, "point DATA_DIR at a directory (the server keeps its database and media there)");
  const probe = join(dir, `.doctor-${Bun.randomUUIDv7()}`);
  try {
    await writeFile(probe, "ok");
    await unlink(probe);
  } catch (err) {
    return error(
      check,
      `${dir} is not writable: ${errorMessage(err)}`,
      "give the server's user write access to DATA_DIR, or point DATA_DIR at one it can write",
    );
  }
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  const detail = `${dir} is writable, ${size(free)} free`;
  const fix = "free space on that filesystem (old backups, logs), or move DATA_DIR to a larger one: uploads and the database need room";
  if (free < o.errorFreeBytes) return error(check, detail, fix);
  if (free < o.warnFreeBytes) return warning(check, detail, fix);
  return ok(check, detail);
}

/** The token signing key: from the environment, or DATA_DIR/secrets.json, which the server makes at its first start. */
function checkSecrets(config: DoctorConfig, fromEnv: boolean): DoctorRow {
  if (fromEnv) return ok("secrets", "JWT_SECRET comes from the environment: keep it with the configuration");
  const file = join(config.DATA_DIR, "secrets.json");
  if (!existsSync(file)) return ok("secrets", `${file} is not made yet: the server makes it at its first start`);
  try {
    const secret = (JSON.parse(readFileSync(file, "utf8")) as { JWT_SECRET?: unknown }).JWT_SECRET;
    if (typeof secret !== "string" || secret.length < 32) throw new Error("it holds no JWT_SECRET of 32 or more characters");
  } catch (err) {
    return error(
      "secrets",
      `${file} is unreadable or damaged, so the server refuses to start: ${errorMessage(err)}`,
      "restore it from a backup (every session and token depends on it), or delete it to make a new one (everyone signs in again)",
    );
  }
  return ok("secrets", `${file} holds the token signing key (keep it in backups: sessions depend on it)`);
}

const databaseFix = (config: DoctorConfig) =>
  config.DATABASE_KIND === "libsql"
    ? "start the libSQL server, or correct DATABASE_URL and DATABASE_AUTH_TOKEN"
    : "check that DATA_DIR (or DATABASE_URL's file) holds a Sidechain database the server's user can read and write";

async function checkDatabase(config: DoctorConfig): Promise<DoctorRow> {
  const check = "database";
  const file = sqlitePath(config);
  if (file && !existsSync(file)) return ok(check, `no database yet at ${file}: the server creates it at its first start`);
  const where = file ?? `the libSQL server ${redactUrl(config.DATABASE_URL!)}`;
  const database = openDatabase(config);
  try {
    await database.ping();
    const status = await migrationStatus(database);
    if (status.unknown.length)
      return error(
        check,
        `${where} was migrated by a newer Sidechain: ${status.unknown.length} migration(s) this binary does not know (${describeUnknown(status.unknown)})`,
        'run that newer version, or restore the backup taken before the upgrade (README "Upgrading"); this binary refuses to start on it',
      );
    if (!status.applied.length) return ok(check, `${where} is reachable and empty: the server creates the schema at its first start`);
    if (status.pending.length)
      return warning(
        check,
        `${where}: ${status.pending.length} migration(s) pending (${migrationNames(status.pending)})`,
        'nothing to do: the server applies them at start, backing the database up first (README "Upgrading")',
      );
    return ok(check, `${where}: reachable, schema current (${MIGRATIONS.length} migrations, last ${MIGRATIONS.at(-1)!.tag})`);
  } finally {
    await database.close();
  }
}

const AUDIO_FIX =
  "install ffmpeg and ffprobe built with libmp3lame and libvorbis (or the release's bundled ones), or set FFMPEG_PATH and FFPROBE_PATH to such a build";

async function checkAudio(config: DoctorConfig): Promise<DoctorRow> {
  const report = await checkAudioTools(resolveBinaries({ ffmpegPath: config.FFMPEG_PATH, ffprobePath: config.FFPROBE_PATH }));
  const tools = `ffmpeg ${report.ffmpeg.version ?? "?"} (${report.ffmpeg.path}), ffprobe ${report.ffprobe.version ?? "?"} (${report.ffprobe.path})`;
  if (report.ok) return ok("audio tools", `${tools}: every encoder, filter and format the pipeline uses`);
  return error("audio tools", `${report.problems.join("; ")}`, AUDIO_FIX);
}

const PUBLIC_URL_FIX = "start the server if it is not running now (then this is expected); otherwise check DNS, the proxy in front of it and PUBLIC_URL";

async function checkPublicUrl(config: DoctorConfig, timeoutMs: number): Promise<DoctorRow> {
  const url = `${config.PUBLIC_URL}/livez`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(Math.max(100, timeoutMs - 100)), redirect: "manual" });
    await res.body?.cancel();
    if (res.ok) return ok("public url", `${url} answers ${res.status}`);
    return warning("public url", `${url} answers ${res.status}, not a Sidechain server's 200`, PUBLIC_URL_FIX);
  } catch (err) {
    return warning("public url", `${url} is not reachable from this machine: ${errorMessage(err)}`, PUBLIC_URL_FIX);
  }
}

async function checkSmtp(config: DoctorConfig, timeoutMs: number): Promise<DoctorRow> {
  if (!config.SMTP_URL)
    return warning(
      "mail (smtp)",
      "not configured: mail stays in the outbox (verification and password-reset links are not sent)",
      "set SMTP_URL to send mail; until then `sidechain mail list` shows it",
    );
  const limit = Math.max(100, timeoutMs - 100);
  const transport = nodemailer.createTransport({ url: config.SMTP_URL, connectionTimeout: limit, greetingTimeout: limit, socketTimeout: limit });
  try {
    // Connects, reads the greeting, says EHLO (STARTTLS when offered), signs in when SMTP_URL has credentials; sends nothing.
    await transport.verify();
  } catch (err) {
    throw new Error(`${redactUrl(config.SMTP_URL)}: ${errorMessage(err)}`);
  } finally {
    transport.close();
  }
  const signedIn = new URL(config.SMTP_URL).username ? `, signed in as ${decodeURIComponent(new URL(config.SMTP_URL).username)}` : "";
  return ok("mail (smtp)", `${redactUrl(config.SMTP_URL)}: connected, EHLO accepted${signedIn}; no mail sent`);
}

async function checkStorage(config: DoctorConfig): Promise<DoctorRow> {
  if (config.STORAGE !== "s3") return ok("storage", `local: ${join(config.DATA_DIR, "media")} (see the data dir row)`);
  const storage = await createStorage(storageOptionsFromConfig(config));
  const where = `bucket ${config.S3_BUCKET}${config.S3_ENDPOINT ? ` at ${config.S3_ENDPOINT}` : ""}`;
  const key = newKey(["doctor"], "json");
  const body = new TextEncoder().encode(JSON.stringify({ probe: key }));
  try {
    await storage.put(key, body);
    try {
      const got = await storage.get(key);
      if (!got) throw new Error(`the probe object ${key} was stored but cannot be read back`);
      const text = await new Response(got.body).text();
      if (text !== new TextDecoder().decode(body)) throw new Error(`the probe object ${key} came back changed`);
    } finally {
      await storage.delete(key);
    }
    if (await storage.exists(key)) throw new Error(`the probe object ${key} is still there after its delete`);
    return ok("storage", `s3 ${where}: put, get and delete of a probe object under doctor/ worked`);
  } catch (err) {
    throw new Error(`s3 ${where}: ${errorMessage(err)}`);
  } finally {
    await storage.close();
  }
}

async function checkRedis(config: DoctorConfig, timeoutMs: number): Promise<DoctorRow> {
  if (!config.REDIS_URL) return ok("redis", "not configured: realtime events and rate limits stay in this one server process");
  const where = redactUrl(config.REDIS_URL);
  const cmd = new Bun.RedisClient(config.REDIS_URL, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: timeoutMs });
  let sub: Bun.RedisClient | undefined;
  try {
    await cmd.connect();
    const pong = await cmd.ping();
    if (pong !== "PONG") throw new Error(`PING answered ${JSON.stringify(pong)}`);
    sub = await cmd.duplicate();
    const channel = `${config.REDIS_PREFIX}:doctor:${Bun.randomUUIDv7()}`;
    const { promise, resolve } = Promise.withResolvers<string>();
    await sub.subscribe(channel, (message) => resolve(message));
    const sent = Bun.randomUUIDv7();
    await cmd.publish(channel, sent);
    if ((await promise) !== sent) throw new Error("the probe message came back changed");
    await sub.unsubscribe(channel);
    return ok("redis", `${where}: PING answered, a message published on a probe channel arrived`);
  } catch (err) {
    throw new Error(`${where}: ${errorMessage(err)}`);
  } finally {
    sub?.close();
    cmd.close();
  }
}

async function checkStream(config: DoctorConfig): Promise<DoctorRow> {
  const client = streamClient(config);
  if (!client) {
    if (config.STREAM_API_KEY || config.STREAM_API_SECRET)
      return error("stream", "only one of STREAM_API_KEY and STREAM_API_SECRET is set: the Stream.io mirror is off", "set both, or neither");
    return ok("stream", "not configured: the Stream.io mirror is off");
  }
  const where = config.STREAM_BASE_URL ? ` at ${config.STREAM_BASE_URL}` : "";
  try {
    const answer = await client.feeds.listFeedGroups();
    return ok("stream", `app ${config.STREAM_API_KEY}${where}: an authenticated read worked (${Object.keys(answer.groups ?? {}).length} feed groups)`);
  } catch (err) {
    throw new Error(`app ${config.STREAM_API_KEY}${where}: ${errorMessage(err)}`);
  }
}

/** With Stream on and a database, where its backfill stands and whether mirror jobs gave up (README "Stream.io mirror"). */
async function checkStreamMirror(config: DoctorConfig): Promise<DoctorRow[]> {
  const file = sqlitePath(config);
  if (!streamEnabled(config) || (file && !existsSync(file))) return [];
  const database = openDatabase(config);
  try {
    if (!(await migrationStatus(database)).applied.length) return [];
    const { backfill, jobs, failed } = await streamStatus({ database, config });
    const detail = `backfill ${backfill}; jobs: ${jobs}`;
    if (!failed) return [ok("stream mirror", detail)];
    return [
      warning(
        "stream mirror",
        `${detail}: ${failed} gave up after about a week of retries`,
        "once Stream answers (the stream row above), retry them on /admin/jobs: each sends its object as it is now",
      ),
    ];
  } finally {
    await database.close();
  }
}

function checkOauth(config: DoctorConfig, name: (typeof PROVIDERS)[number]): DoctorRow {
  const label = PROVIDER_LABEL[name];
  const upper = name.toUpperCase();
  const id = config[`${upper}_CLIENT_ID` as "GOOGLE_CLIENT_ID"];
  const secret = config[`${upper}_CLIENT_SECRET` as "GOOGLE_CLIENT_SECRET"];
  const uri = redirectUri(config, name);
  const check = `sign-in: ${name}`;
  if (id && secret) return ok(check, `on; the redirect URI registered with ${label} must be ${uri}`);
  if (id || secret)
    return error(
      check,
      `only ${id ? `${upper}_CLIENT_ID` : `${upper}_CLIENT_SECRET`} is set: ${label} sign-in is off`,
      `set both ${upper}_CLIENT_ID and ${upper}_CLIENT_SECRET (registering ${uri} as the redirect URI), or neither`,
    );
  return ok(check, `off (${upper}_CLIENT_ID and ${upper}_CLIENT_SECRET not set); to turn it on, register ${uri} as the redirect URI`);
}

const STATUS_WIDTH = 8;

/** The table: one line per check, the fix on the line below anything not ok, and a count at the end. */
export function formatRows(rows: DoctorRow[]): string[] {
  const checkWidth = Math.max(...rows.map((r) => r.check.length), "CHECK".length) + 2;
  const pad = (s: string, n: number) => s.padEnd(n);
  const lines = [`${pad("STATUS", STATUS_WIDTH)}${pad("CHECK", checkWidth)}RESULT`];
  for (const r of rows) {
    lines.push(`${pad(r.status, STATUS_WIDTH)}${pad(r.check, checkWidth)}${r.detail}`);
    if (r.fix) lines.push(`${" ".repeat(STATUS_WIDTH + checkWidth)}fix: ${r.fix}`);
  }
  const count = (s: DoctorStatus) => rows.filter((r) => r.status === s).length;
  const [w, e] = [count("warning"), count("error")];
  lines.push("", `${count("ok")} ok, ${w} warning${w === 1 ? "" : "s"}, ${e} error${e === 1 ? "" : "s"}`);
  return lines;
}

export const DOCTOR_USAGE = "  sidechain doctor                   check the configuration and everything it names; exit code 1 when an error is found";

/** `sidechain doctor`: prints the table; exit code 2 for a configuration that does not parse, 1 for any error. */
export async function doctorCommand(args: string[], env: Record<string, string | undefined>, io: { out(l: string): void; err(l: string): void }) {
  if (args.length) {
    io.err(`sidechain doctor: takes no arguments, not "${args.join(" ")}"`);
    return 2;
  }
  const { rows, exitCode } = await runDoctor(env);
  for (const line of formatRows(rows)) io.out(line);
  return exitCode;
}

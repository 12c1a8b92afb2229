// The binary's subcommands. `sidechain` alone starts the server (index.ts); `sidechain mail list` prints the newest
// messages of the mail outbox, so a self-hoster without SMTP can still read a reset or verification link.
// Works on the same configuration as the server (DATA_DIR, DATABASE_URL...), and may run while the server runs.
import { ConfigError, loadConfig } from "./config.ts";
import { openDatabase, sqlitePath } from "./db/client.ts";
import { NewerDatabaseError, upgradeDatabase } from "./db/migrate.ts";
import { createLogger } from "./log.ts";
import { listMail } from "./integrations/mailer.ts";
import { adminCli, type CliTools, USER_USAGE } from "./admin/cli.ts";
import { MODERATION_USAGE, moderationCli } from "./admin/moderation-cli.ts";
import { RELAY_USAGE, relayCommand } from "./relay/command.ts";
import { BACKUP_USAGE, backupCommand } from "./backup/command.ts";
import { STREAM_USAGE, streamCommand } from "./integrations/stream-command.ts";
import { DOCTOR_USAGE, doctorCommand } from "./system/doctor.ts";

export const USAGE = `Usage:
  sidechain                          start the server (configured by environment variables, see README)
  sidechain mail list [--limit N]    print the newest N (default 10) messages of the mail outbox, newest last
${RELAY_USAGE}
${USER_USAGE}
${MODERATION_USAGE}
${BACKUP_USAGE}
${STREAM_USAGE}
${DOCTOR_USAGE}
  sidechain help                     this text`;

export type Output = { out(line: string): void; err(line: string): void; readLine?(): Promise<string> };
const stdio: Output = {
  out: (l) => console.log(l),
  err: (l) => console.error(l),
  // One line of standard input (a password piped in, or typed: it is echoed, so pipe it from a file or a manager).
  readLine: async () => {
    for await (const chunk of console) return chunk;
    return "";
  },
};

/**
 * Runs the subcommand named by `args` (process.argv without the runtime and script) and returns its exit code,
 * or null when there is none and the server should start.
 */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined> = process.env,
  io: Output = stdio,
  tools?: CliTools,
): Promise<number | null> {
  try {
    return await dispatch(args, env, io, tools);
  } catch (err) {
    // A command that opens the database refuses one a newer Sidechain migrated, like the server (README "Upgrading").
    if (!(err instanceof NewerDatabaseError)) throw err;
    io.err(`sidechain: ${err.message}`);
    return 1;
  }
}

async function dispatch(args: string[], env: Record<string, string | undefined>, io: Output, tools?: CliTools): Promise<number | null> {
  if (args.length === 0) return null;
  const [command, sub, ...rest] = args;
  if (command === "help" || command === "--help" || command === "-h") {
    io.out(USAGE);
    return 0;
  }
  if (command === "mail" && sub === "list") return mailList(rest, env, io);
  if (command === "relay") return relayCommand(args.slice(1), io);
  const owners = ["user", "admin", "settings", "invite", "report", "audit"] as const;
  if ((owners as readonly string[]).includes(command!) && tools) {
    try {
      if (command === "report" || command === "audit") return await moderationCli(command, args.slice(1), env, io, tools);
      return await adminCli(command as "user" | "admin" | "settings" | "invite", args.slice(1), env, io, tools);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.err(`sidechain: ${err.message}`);
      return 2;
    }
  }
  if (command === "backup") return backupCommand(args.slice(1), env, io);
  if (command === "doctor") return doctorCommand(args.slice(1), env, io);
  if (command === "stream" && tools) return streamCommand(args.slice(1), env, io, tools);
  io.err(`sidechain: unknown command "${args.join(" ")}"\n\n${USAGE}`);
  return 2;
}

function parseLimit(rest: string[]): number | string {
  let limit = 10;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const value = arg.startsWith("--limit=") ? arg.slice("--limit=".length) : arg === "--limit" ? rest[++i] : undefined;
    if (value === undefined) return `unknown option "${arg}"`;
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) return `--limit wants a whole number from 1 to 1000, not "${value}"`;
    limit = Number(value);
  }
  return limit;
}

/** Where delivery stands, for messages SMTP has seen (kept ones have none). */
function deliveryLine(m: { status: string; attempts: number; lastError: string | null; sentAt: number | null }): string | null {
  if (m.status === "sent" && m.sentAt !== null) return `sent ${new Date(m.sentAt).toISOString()} (attempt ${m.attempts})`;
  if (m.status === "failed") return `failed for good after ${m.attempts} attempts: ${m.lastError ?? "unknown error"}`;
  if (m.status === "queued" && m.attempts > 0)
    return `${m.attempts} attempt${m.attempts === 1 ? "" : "s"} failed so far, will retry: ${m.lastError ?? "unknown error"}`;
  return null;
}

async function mailList(rest: string[], env: Record<string, string | undefined>, io: Output): Promise<number> {
  const limit = parseLimit(rest);
  if (typeof limit === "string") {
    io.err(`sidechain mail list: ${limit}\n\n${USAGE}`);
    return 2;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`sidechain: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const database = openDatabase(config);
  try {
    // Same migrations the server applies at start (idempotent), with the same checks and backup (README "Upgrading"):
    // a fresh DATA_DIR simply has an empty outbox.
    await upgradeDatabase(database, { file: sqlitePath(config), log: createLogger("warn", (l) => io.err(l)) });
    const messages = (await listMail(database, limit)).reverse(); // newest last: nearest the prompt
    if (messages.length === 0) {
      io.out("The mail outbox is empty.");
      return 0;
    }
    const smtp = config.SMTP_URL ? "" : " (no SMTP_URL: mail is kept here, not sent)";
    io.out(`${messages.length} newest message${messages.length === 1 ? "" : "s"} of the outbox, newest last${smtp}:`);
    for (const m of messages) {
      io.out("");
      io.out("─".repeat(72));
      io.out(`Date:    ${new Date(m.createdAt).toISOString()}  [${m.status}]`);
      io.out(`To:      ${m.to}`);
      io.out(`Subject: ${m.subject}`);
      const delivery = deliveryLine(m);
      if (delivery) io.out(`Mail:    ${delivery}`);
      io.out("");
      io.out(m.text); // the plain-text body carries the full links
    }
    return 0;
  } finally {
    await database.close();
  }
}

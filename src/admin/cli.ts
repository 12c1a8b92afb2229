// The owner's command line (README "Operating a community"): `sidechain user ...` and `sidechain admin
// create-owner`, on the same configuration as the server (DATA_DIR, DATABASE_URL, STORAGE...), safe while it runs
// (every change is a transaction; the server sees it on its next request). Staff actions from here are audited with
// the actor "cli". Argument parsing is by hand: a dozen flags do not justify a parser dependency, and every refusal
// names the flag.
import { asc, eq } from "drizzle-orm";
import { passwordProblem } from "../auth/passwords.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { ApiError } from "../http/errors.ts";
import { mirrorUserCreated } from "../integrations/stream.ts";
import { emailProblem, normalizeEmail, normalizeUsername, usernameProblem } from "../lib/text.ts";
import { insertNewUser, newUserRow, type Role, roleOf, ROLES, type UserRow } from "../users/service.ts";
import { instanceSettings, settingsFromText } from "../system/settings.ts";
import { CLI_ACTOR } from "./audit.ts";
import { updateSettings } from "./settings.ts";
import {
  deleteAccount,
  findAccount,
  listAccounts,
  type QuotaOverride,
  revokeAccountSessions,
  setQuota,
  setRole,
  suspendAccount,
  unsuspendAccount,
} from "./users.ts";
import { approveSignup, rejectSignup } from "./signups.ts";
import { createInvite, inviteState, listInvites, revokeInvite, STAFF_LIMITS } from "../auth/invites.ts";

export const USER_USAGE = `  sidechain user list [--role owner|moderator|member] [--suspended] [--query TEXT] [--limit N]
                                     accounts, oldest first: username, email, role, state, loops
  sidechain user promote USER [--owner] [--reason TEXT]
                                     make USER (username, @username, email or id) a moderator (or an owner)
  sidechain user demote USER [--reason TEXT]
                                     make USER a member again (the last owner cannot be demoted)
  sidechain user suspend USER --reason TEXT
                                     refuse USER's sign-ins, end their sessions and withhold their loops
  sidechain user unsuspend USER [--reason TEXT]
  sidechain user revoke-sessions USER [--reason TEXT]
                                     sign USER out everywhere
  sidechain user delete USER --yes [--reason TEXT]
                                     delete USER with their loops, media, follows, reactions and plays
  sidechain user quota USER [--per-day N|default] [--mb N|default]
                                     USER's own upload quotas (0: no limit; default: the community's)
  sidechain user approve USER [--reason TEXT]
                                     let a sign-up waiting for approval in (they get a mail)
  sidechain user reject USER [--reason TEXT]
                                     turn a waiting sign-up down: it is deleted, they get a mail with the reason
  sidechain invite create [--uses N] [--expires 7d]
                                     make an invite link (1 to 1000 uses, 1h to 30d; default 1 use, 7d); prints it
  sidechain invite list              every invite link: uses, expiry, maker, state
  sidechain invite revoke ID         stop an invite link from working
  sidechain admin create-owner --email EMAIL --username NAME
                                     create the owner account (the password is read from standard input)
  sidechain settings show            the community's settings
  sidechain settings set KEY=VALUE ...
                                     change settings: name, description, rules, contact,
                                     registration (open|invite|approval|closed), members_invite,
                                     sign_in_to_view (yes|no), upload_quota_per_day, upload_quota_mb
                                     (0 = no limit), approval_queue_limit`;

export type CliIo = { out(line: string): void; err(line: string): void; readLine?(): Promise<string> };
export type CliTools = { buildDeps(env: Record<string, string | undefined>): Promise<Deps & { close(opts?: { graceMs?: number }): Promise<void> }> };

export type Flags = { positional: string[]; values: Map<string, string>; switches: Set<string> };
const VALUE_FLAGS = new Set(["--role", "--query", "--limit", "--reason", "--email", "--username", "--per-day", "--mb", "--uses", "--expires"]);
const SWITCHES = new Set(["--suspended", "--owner", "--yes"]);

/** `--limit N`: a whole number from 1 to `max`, `fallback` when absent, or the sentence saying what is wrong. */
export function limitFlag(flags: Flags, fallback: number, max: number): number | string {
  const v = flags.values.get("--limit");
  if (v === undefined) return fallback;
  return /^\d{1,6}$/.test(v) && Number(v) >= 1 && Number(v) <= max ? Number(v) : `--limit wants a whole number from 1 to ${max}, not "${v}"`;
}

/** The owner's commands' arguments: `--name value` or `--name=value` for `valueFlags`, bare `switches`, the rest positional. */
export function parseFlags(args: string[], valueFlags: ReadonlySet<string> = VALUE_FLAGS, switches: ReadonlySet<string> = SWITCHES): Flags | string {
  const f: Flags = { positional: [], values: new Map(), switches: new Set() };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    if (valueFlags.has(name)) {
      const value = eq > 0 && arg.startsWith("--") ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) return `${name} needs a value`;
      f.values.set(name, value);
    } else if (switches.has(arg)) f.switches.add(arg);
    else if (arg.startsWith("--")) return `unknown option "${arg}"`;
    else f.positional.push(arg);
  }
  return f;
}

const line = (u: UserRow) =>
  [
    `@${u.username}`.padEnd(24),
    (u.email ?? "-").padEnd(32),
    roleOf(u).padEnd(9),
    (u.suspendedAt !== null
      ? `suspended ${new Date(u.suspendedAt).toISOString().slice(0, 10)}`
      : u.approval === "pending"
        ? "waiting approval"
        : "active"
    ).padEnd(20),
    `${u.postCount} loops`,
  ].join(" ");

/** `sidechain user ...` and `sidechain admin ...`: the exit code (0 done, 1 refused, 2 usage). */
export async function adminCli(
  command: "user" | "admin" | "settings" | "invite",
  args: string[],
  env: Record<string, string | undefined>,
  io: CliIo,
  tools: CliTools,
): Promise<number> {
  const [sub, ...rest] = args;
  const flags = parseFlags(rest);
  const usage = (problem: string) => (io.err(`sidechain ${command} ${sub ?? ""}: ${problem}\n\n${USER_USAGE}`), 2);
  if (typeof flags === "string") return usage(flags);
  if (command === "settings") return settingsCli(args, env, io, tools);
  if (command === "invite") return inviteCli(sub, flags, env, io, tools, usage);
  const known =
    command === "user" ? ["list", "promote", "demote", "suspend", "unsuspend", "revoke-sessions", "delete", "quota", "approve", "reject"] : ["create-owner"];
  if (!sub || !known.includes(sub)) return usage(`unknown subcommand "${sub ?? ""}"`);
  const target = flags.positional[0];
  if (sub !== "list" && sub !== "create-owner" && (!target || flags.positional.length > 1)) return usage("name one account (username, @username, email or id)");
  const reason = flags.values.get("--reason") ?? "";
  if (sub === "suspend" && !reason.trim()) return usage("--reason is required: the person is shown it when they try to sign in");
  if (sub === "delete" && !flags.switches.has("--yes")) return usage("deleting an account cannot be undone: add --yes");
  const limit = limitFlag(flags, 100, 10_000);
  if (typeof limit === "string") return usage(limit);
  const quota: QuotaOverride = {};
  for (const [flag, key, max] of [
    ["--per-day", "upload_quota_per_day", 10_000],
    ["--mb", "upload_quota_mb", 10_000_000],
  ] as const) {
    const v = flags.values.get(flag);
    if (v === undefined) continue;
    if (v !== "default" && !(/^\d{1,8}$/.test(v) && Number(v) <= max)) return usage(`${flag} wants a whole number from 0 to ${max}, or default, not "${v}"`);
    quota[key] = v === "default" ? null : Number(v);
  }
  if (sub === "quota" && !Object.keys(quota).length) return usage("say --per-day N and/or --mb N (0: no limit; default: the community's)");
  const role = flags.values.get("--role");
  if (role !== undefined && !(ROLES as readonly string[]).includes(role)) return usage(`--role is one of ${ROLES.join(", ")}, not "${role}"`);

  const deps = await tools.buildDeps(env);
  try {
    switch (sub) {
      case "list": {
        const rows = await listAccounts(deps, {
          limit,
          ...(role ? { role: role as Role } : {}),
          ...(flags.switches.has("--suspended") ? { suspended: true } : {}),
          ...(flags.values.has("--query") ? { query: flags.values.get("--query")! } : {}),
        });
        if (!rows.length) io.out("No accounts match.");
        for (const u of rows) io.out(line(u));
        return 0;
      }
      case "promote": {
        const u = await setRole(deps, CLI_ACTOR, await findAccount(deps, target!), flags.switches.has("--owner") ? "owner" : "moderator", reason);
        io.out(`@${u.username} is now ${roleOf(u)}.`);
        return 0;
      }
      case "demote": {
        const u = await setRole(deps, CLI_ACTOR, await findAccount(deps, target!), "member", reason);
        io.out(`@${u.username} is now member.`);
        return 0;
      }
      case "suspend": {
        const u = await suspendAccount(deps, CLI_ACTOR, await findAccount(deps, target!), reason.trim());
        io.out(`@${u.username} is suspended: signed out everywhere, sign-in refused, loops withheld.`);
        return 0;
      }
      case "unsuspend": {
        const u = await unsuspendAccount(deps, CLI_ACTOR, await findAccount(deps, target!), reason);
        io.out(`@${u.username} may sign in again; ${u.postCount} loops are published again.`);
        return 0;
      }
      case "revoke-sessions": {
        const u = await findAccount(deps, target!);
        await revokeAccountSessions(deps, CLI_ACTOR, u, reason);
        io.out(`@${u.username} is signed out everywhere.`);
        return 0;
      }
      case "quota": {
        const u = await setQuota(deps, CLI_ACTOR, await findAccount(deps, target!), quota, reason);
        const show = (v: number | null, unit: string) => (v === null ? "the community's" : v === 0 ? "no limit" : `${v} ${unit}`);
        io.out(`@${u.username}: ${show(u.uploadQuotaPerDay, "loops a day")}, ${show(u.uploadQuotaMb, "MB")}.`);
        return 0;
      }
      case "approve": {
        const u = await approveSignup(deps, CLI_ACTOR, await findAccount(deps, target!), reason);
        io.out(`@${u.username} is approved and may sign in; they were mailed.`);
        return 0;
      }
      case "reject": {
        const u = await findAccount(deps, target!);
        await rejectSignup(deps, CLI_ACTOR, u, reason);
        io.out(`@${u.username}'s sign-up is rejected and deleted; they were mailed.`);
        return 0;
      }
      case "delete": {
        const u = await findAccount(deps, target!);
        const r = await deleteAccount(deps, CLI_ACTOR, u, reason);
        io.out(`@${u.username} is deleted: ${r.posts} loops, ${r.follows} follows, ${r.reactions} reactions and ${r.plays} plays went with it.`);
        return 0;
      }
      default:
        return await createOwner(deps, flags, io, usage);
    }
  } catch (err) {
    if (err instanceof ApiError) {
      io.err(`sidechain ${command} ${sub}: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    await deps.close({ graceMs: 1000 });
  }
}

/** The owner account of a server set up from the command line: refused once the server has an owner. */
async function createOwner(deps: Deps, flags: Flags, io: CliIo, usage: (p: string) => number): Promise<number> {
  const email = normalizeEmail(flags.values.get("--email") ?? "");
  const username = normalizeUsername(flags.values.get("--username") ?? "");
  const problem = emailProblem(email) ?? usernameProblem(username);
  if (problem) return usage(`${emailProblem(email) ? "--email" : "--username"}: ${problem}`);
  const [owner] = await deps.database.db.select().from(users).where(eq(users.role, "owner")).limit(1);
  if (owner) {
    io.err(`sidechain admin create-owner: this server already has an owner (@${owner.username}); use \`sidechain user promote USER --owner\``);
    return 1;
  }
  if (!io.readLine) return usage("the password is read from standard input, which is not available here");
  const password = (await io.readLine()).replace(/\r?\n$/, "");
  const weak = passwordProblem(password, [username, email, email.split("@")[0]!]);
  if (weak) return usage(`password ${weak}`);
  const hash = await deps.hasher.hash(password);
  const row = newUserRow({ email, emailVerified: true, username, displayName: username, passwordHash: hash }, deps.clock.now());
  try {
    await deps.database.tx(async (tx) => {
      await insertNewUser(tx, { ...row, role: "owner" });
      await mirrorUserCreated(deps, tx, row.id);
    });
  } catch (err) {
    for (const field of ["email", "username"] as const) {
      if (isUniqueViolation(err, field)) {
        io.err(`sidechain admin create-owner: an account with this ${field} exists`);
        return 1;
      }
    }
    throw err;
  }
  io.out(`@${username} is the owner of this server. Sign in at ${deps.config.PUBLIC_URL}/signin.`);
  return 0;
}

/** `sidechain settings show|set KEY=VALUE...` (values with spaces or lines: quote them for the shell). */
async function settingsCli(args: string[], env: Record<string, string | undefined>, io: CliIo, tools: CliTools): Promise<number> {
  const [sub, ...pairs] = args;
  const usage = (problem: string) => (io.err(`sidechain settings ${sub ?? ""}: ${problem}\n\n${USER_USAGE}`), 2);
  if (sub !== "show" && sub !== "set") return usage(`unknown subcommand "${sub ?? ""}"`);
  const patch: Record<string, string> = {};
  if (sub === "set") {
    if (!pairs.length) return usage("name at least one KEY=VALUE");
    for (const pair of pairs) {
      const at = pair.indexOf("=");
      if (at < 1) return usage(`"${pair}" is not KEY=VALUE`);
      patch[pair.slice(0, at)] = pair.slice(at + 1);
    }
  } else if (pairs.length) return usage("show takes no arguments");
  const deps = await tools.buildDeps(env);
  try {
    const now = sub === "set" ? await updateSettings(deps, CLI_ACTOR, settingsFromText(patch)) : await instanceSettings(deps);
    for (const [k, value] of Object.entries(now)) {
      const v = String(value);
      io.out(`${k.padEnd(21)} ${v.includes("\n") ? `\n  ${v.split("\n").join("\n  ")}` : v}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof ApiError) {
      const fields = err.fields
        ? Object.entries(err.fields)
            .map(([k, v]) => `${k}: ${v}`)
            .join("; ")
        : "";
      io.err(`sidechain settings ${sub}: ${err.message}${fields ? ` (${fields})` : ""}`);
      return 1;
    }
    throw err;
  } finally {
    await deps.close({ graceMs: 1000 });
  }
}

/** "7d", "12h", "30d": hours, within the staff's limits; a string says what is wrong. */
function parseExpiry(v: string): number | string {
  const m = /^(\d{1,4})([hd])$/.exec(v);
  const hours = m ? Number(m[1]) * (m[2] === "d" ? 24 : 1) : Number.NaN;
  if (!(hours >= 1 && hours <= STAFF_LIMITS.maxHours)) return `--expires wants hours or days like 12h or 7d, from 1h to 30d, not "${v}"`;
  return hours;
}

/** `sidechain invite create|list|revoke`: invites made from here are the owner's, audited with the actor "cli". */
async function inviteCli(
  sub: string | undefined,
  flags: Flags,
  env: Record<string, string | undefined>,
  io: CliIo,
  tools: CliTools,
  usage: (problem: string) => number,
): Promise<number> {
  if (sub !== "create" && sub !== "list" && sub !== "revoke") return usage(`unknown subcommand "${sub ?? ""}"`);
  if (sub === "revoke" && flags.positional.length !== 1) return usage("name one invite by its id (see `sidechain invite list`)");
  if (sub !== "revoke" && flags.positional.length) return usage(`unexpected "${flags.positional[0]}"`);
  let uses: number | undefined;
  let hours: number | undefined;
  if (flags.values.has("--uses")) {
    const v = flags.values.get("--uses")!;
    if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > STAFF_LIMITS.maxUses)
      return usage(`--uses wants a whole number from 1 to ${STAFF_LIMITS.maxUses}, not "${v}"`);
    uses = Number(v);
  }
  if (flags.values.has("--expires")) {
    const h = parseExpiry(flags.values.get("--expires")!);
    if (typeof h === "string") return usage(h);
    hours = h;
  }
  const deps = await tools.buildDeps(env);
  try {
    if (sub === "create") {
      // An invite needs a maker: the server's (oldest) owner, as the one the command line acts for.
      const [owner] = await deps.database.db.select().from(users).where(eq(users.role, "owner")).orderBy(asc(users.createdAt)).limit(1);
      if (!owner) {
        io.err("sidechain invite create: this server has no owner yet; run `sidechain admin create-owner` first");
        return 1;
      }
      const made = await createInvite(deps, owner, { ...(uses ? { max_uses: uses } : {}), ...(hours ? { expires_in_hours: hours } : {}) }, { cli: true });
      io.out(made.url);
      io.out(
        `id ${made.invite.id}: ${made.invite.maxUses} use${made.invite.maxUses === 1 ? "" : "s"}, expires ${new Date(made.invite.expiresAt).toISOString()}`,
      );
      return 0;
    }
    if (sub === "revoke") {
      const row = await revokeInvite(deps, "cli", flags.positional[0]!);
      io.out(`Invite ${row.id} is revoked: it no longer works.`);
      return 0;
    }
    const rows = await listInvites(deps, { limit: 1000 });
    if (!rows.length) io.out("No invite links.");
    const now = deps.clock.now();
    for (const i of rows) {
      io.out(
        [
          i.id,
          `@${i.creatorUsername}`.padEnd(24),
          `${i.uses}/${i.maxUses} uses`.padEnd(14),
          `expires ${new Date(i.expiresAt).toISOString()}`,
          inviteState(i, now),
        ].join(" "),
      );
    }
    return 0;
  } catch (err) {
    if (err instanceof ApiError) {
      io.err(`sidechain invite ${sub}: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    await deps.close({ graceMs: 1000 });
  }
}

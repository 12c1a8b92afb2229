// Invite links (README "Invites and approval"; docs/security.md "Invite codes"): made by staff, or by members while
// the owner allows it (the `members_invite` setting), each with a use limit and an expiry. The code is 128 bits from
// the CSPRNG, shown once (in the link) and stored as its SHA-256 only, like the server's other bearer secrets. A
// sign-up spends one use with a conditional UPDATE in the new account's transaction, so two sign-ups racing for
// the last use make exactly one account, and a refused sign-up spends nothing.
import { and, count, desc, eq, gt, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { invites, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { audit, actorOf } from "../admin/audit.ts";
import { errors } from "../http/errors.ts";
import { newId, randomToken, sha256 } from "../lib/crypto.ts";
import { instanceSettings } from "../system/settings.ts";
import { isStaff, type UserRow } from "../users/service.ts";

export type InviteRow = typeof invites.$inferSelect;
/** An invite with its maker's username (for lists and the invite page). */
export type InviteView = InviteRow & { creatorUsername: string };

const HOUR = 3_600_000;
/** What staff may make (and the command line): up to 1,000 uses, 1 hour to 30 days. */
export const STAFF_LIMITS = { maxUses: 1000, maxHours: 30 * 24 } as const;
/** What a member may make while members_invite is on: at most 5 live invites, 10 uses and 7 days each. */
export const MEMBER_LIMITS = { maxUses: 10, maxHours: 7 * 24, live: 5 } as const;
export const DEFAULT_INVITE = { maxUses: 1, hours: 7 * 24 } as const;
/** The code's form: 16 random bytes in base64url (22 characters). Anything else is refused before a lookup. */
const CODE_RE = /^[A-Za-z0-9_-]{22}$/;

export const inviteUrl = (deps: Pick<Deps, "config">, code: string) => `${deps.config.PUBLIC_URL}/invite/${code}`;

/** Whether a code has the form of one this server makes (cheap check before any lookup). */
export const looksLikeInviteCode = (code: unknown): code is string => typeof code === "string" && CODE_RE.test(code);

/** The state of an invite at `now`: usable, or why not. */
export function inviteState(row: Pick<InviteRow, "revokedAt" | "expiresAt" | "uses" | "maxUses">, now: number) {
  if (row.revokedAt !== null) return "revoked" as const;
  if (row.expiresAt <= now) return "expired" as const;
  if (row.uses >= row.maxUses) return "used_up" as const;
  return "live" as const;
}

const REFUSALS = {
  invalid: () => errors.badRequest("invite_invalid", "This invite link is not valid: check that it was copied whole"),
  revoked: () => errors.gone("invite_revoked", "This invite link was withdrawn by the person who made it"),
  expired: () => errors.gone("invite_expired", "This invite link has expired: ask for a new one"),
  used_up: () => errors.gone("invite_used_up", "This invite link has been used as many times as it allows: ask for a new one"),
};

/** Who may make invites now: staff always, members only while the owner allows it. */
export async function mayInvite(deps: Deps, user: UserRow): Promise<boolean> {
  return isStaff(user) || (await instanceSettings(deps)).members_invite;
}

export type NewInvite = { max_uses?: number; expires_in_hours?: number };

/** Makes an invite for `creator` (a staff member, or a member while members_invite is on). Returns the row and the code. */
export async function createInvite(deps: Deps, creator: UserRow, input: NewInvite, opts: { cli?: boolean } = {}) {
  const staff = opts.cli || isStaff(creator);
  if (!staff && !(await instanceSettings(deps)).members_invite) {
    throw errors.forbidden("invites_staff_only", "On this server only the staff may make invite links");
  }
  const limits = staff ? STAFF_LIMITS : MEMBER_LIMITS;
  const maxUses = input.max_uses ?? DEFAULT_INVITE.maxUses;
  const hours = input.expires_in_hours ?? Math.min(DEFAULT_INVITE.hours, limits.maxHours);
  const fields: Record<string, string> = {};
  if (!Number.isInteger(maxUses) || maxUses < 1 || maxUses > limits.maxUses) fields.max_uses = `A whole number from 1 to ${limits.maxUses}`;
  if (!Number.isInteger(hours) || hours < 1 || hours > limits.maxHours) fields.expires_in_hours = `A whole number of hours from 1 to ${limits.maxHours}`;
  if (Object.keys(fields).length) throw errors.validation(fields, "This invite cannot be made");
  const code = randomToken(16);
  const now = deps.clock.now();
  const row: InviteRow = {
    id: newId(),
    codeHash: sha256(code),
    creatorId: creator.id,
    maxUses,
    uses: 0,
    expiresAt: now + hours * HOUR,
    revokedAt: null,
    createdAt: now,
  };
  await deps.database.tx(async (tx) => {
    if (!staff) {
      // The member's cap, counted in the write transaction that adds the new one (no two requests both pass it).
      const [live] = await tx
        .select({ n: count() })
        .from(invites)
        .where(and(eq(invites.creatorId, creator.id), isNull(invites.revokedAt), gt(invites.expiresAt, now), lt(invites.uses, invites.maxUses)));
      if (Number(live?.n ?? 0) >= MEMBER_LIMITS.live) {
        throw errors.conflict("invite_limit", `You have ${MEMBER_LIMITS.live} live invite links: revoke one or wait for one to run out`);
      }
    }
    await tx.insert(invites).values(row);
    if (staff) {
      await audit(deps, tx, opts.cli ? { id: null, label: "cli" } : actorOf(creator), {
        action: "invite.create",
        targetType: "invite",
        targetId: row.id,
        targetLabel: `invite by @${creator.username}`,
        details: { max_uses: maxUses, expires_at: new Date(row.expiresAt).toISOString() },
      });
    }
  });
  return { invite: row, code, url: inviteUrl(deps, code) };
}

const withCreator = { invite: invites, creatorUsername: users.username };
const view = (r: { invite: InviteRow; creatorUsername: string }): InviteView => ({ ...r.invite, creatorUsername: r.creatorUsername });

/** Invites newest first: one maker's, or everyone's (staff). */
export async function listInvites(deps: Pick<Deps, "database">, opts: { creatorId?: string; limit: number }): Promise<InviteView[]> {
  const rows = await deps.database.db
    .select(withCreator)
    .from(invites)
    .innerJoin(users, eq(users.id, invites.creatorId))
    .where(opts.creatorId ? eq(invites.creatorId, opts.creatorId) : undefined)
    .orderBy(desc(invites.createdAt), desc(invites.id))
    .limit(opts.limit);
  return rows.map(view);
}

/** The invite behind a code (any state), with its maker; undefined for a code that names none. */
export async function findInviteByCode(deps: Pick<Deps, "database">, code: unknown, db: Db = deps.database.db): Promise<InviteView | undefined> {
  if (!looksLikeInviteCode(code)) return undefined;
  const [row] = await db
    .select(withCreator)
    .from(invites)
    .innerJoin(users, eq(users.id, invites.creatorId))
    .where(eq(invites.codeHash, sha256(code)))
    .limit(1);
  return row ? view(row) : undefined;
}

/** The usable invite behind a code, or the refusal that names why it is not (thrown). Spends nothing. */
export async function checkInvite(deps: Pick<Deps, "database" | "clock">, code: unknown, db?: Db): Promise<InviteView> {
  const row = await findInviteByCode(deps, code, db);
  if (!row) throw REFUSALS.invalid();
  const state = inviteState(row, deps.clock.now());
  if (state !== "live") throw REFUSALS[state]();
  return row;
}

/**
 * Spends one use of the invite, in the caller's (the new account's) write transaction: one conditional UPDATE, so
 * of two sign-ups racing for the last use exactly one gets it. Throws the refusal (and the transaction, with the
 * account, rolls back) when the invite is not usable.
 */
export async function spendInvite(deps: Pick<Deps, "database" | "clock">, tx: Db, code: unknown): Promise<InviteView> {
  const row = await checkInvite(deps, code, tx);
  const now = deps.clock.now();
  const spent = await tx
    .update(invites)
    .set({ uses: sql`${invites.uses} + 1` })
    .where(and(eq(invites.id, row.id), isNull(invites.revokedAt), gt(invites.expiresAt, now), lt(invites.uses, invites.maxUses)))
    .returning({ id: invites.id });
  if (!spent.length) throw REFUSALS.used_up();
  return row;
}

/** Revokes an invite: its maker may, and staff may revoke anyone's (audited). Revoking a revoked one changes nothing. */
export async function revokeInvite(deps: Deps, actor: UserRow | "cli", id: string): Promise<InviteView> {
  const [found] = await deps.database.db
    .select(withCreator)
    .from(invites)
    .innerJoin(users, eq(users.id, invites.creatorId))
    .where(eq(invites.id, id.slice(0, 64)))
    .limit(1);
  const row = found && view(found);
  const staff = actor === "cli" || isStaff(actor);
  if (!row || (!staff && row.creatorId !== actor.id)) throw errors.notFound("invite_not_found", "No such invite link of yours");
  if (row.revokedAt !== null) return row;
  const now = deps.clock.now();
  await deps.database.tx(async (tx) => {
    await tx.update(invites).set({ revokedAt: now }).where(eq(invites.id, row.id));
    if (staff) {
      await audit(deps, tx, actor === "cli" ? { id: null, label: "cli" } : actorOf(actor), {
        action: "invite.revoke",
        targetType: "invite",
        targetId: row.id,
        targetLabel: `invite by @${row.creatorUsername}`,
        details: { uses: row.uses, max_uses: row.maxUses },
      });
    }
  });
  return { ...row, revokedAt: now };
}

/** Who joined through each of these invites (usernames), for staff's "who invited whom". */
export async function joinedThrough(deps: Pick<Deps, "database">, inviteIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!inviteIds.length) return out;
  const rows = await deps.database.db.select({ inviteId: users.inviteId, username: users.username }).from(users).where(inArray(users.inviteId, inviteIds));
  for (const r of rows) if (r.inviteId) out.set(r.inviteId, [...(out.get(r.inviteId) ?? []), r.username]);
  return out;
}

// Who may create an account, decided in the new account's write transaction (README "Invites and approval"), for
// every door that creates one: the API's register, the web form, Google/Discord first sign-ins. The community's
// `registration` setting: open (anyone), invite (only with an invite link), approval (anyone may ask; the account
// waits, `pending`, until staff approve), closed (nobody). An invite works in invite and approval mode (it skips the
// queue) and in open mode (it records who invited); closed refuses it. The first account of a fresh server (the
// owner) is never refused or queued, unless sign-ups are closed. Staff hear of a waiting sign-up by mail, at most one mail per staff member
// per STAFF_MAIL_EVERY_MS naming how many wait, so a burst of sign-ups does not send hundreds.
import { and, count, eq, inArray, isNotNull, isNull } from "drizzle-orm";
import { message } from "./mail.ts";
import type { Db } from "../db/client.ts";
import { users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { ApiError, errors } from "../http/errors.ts";
import type { RateLimits, WindowLimiter } from "../http/rate-limit.ts";
import { errorFields } from "../log.ts";
import { instanceSettings } from "../system/settings.ts";
import { spendInvite } from "./invites.ts";

export type Admission = { approval: "approved" | "pending"; inviteId: string | null };
/** What someone asking to join may tell the staff (approval mode). */
export const SIGNUP_NOTE_MAX = 500;
/** One "sign-ups wait" mail per staff member per this long. */
export const STAFF_MAIL_EVERY_MS = 30 * 60_000;

export const pendingError = () =>
  errors.forbidden("approval_pending", "Your sign-up is waiting for the community's staff to approve it. You will get an email when they decide.");

/**
 * Admits a new account, or throws why not (and the caller's transaction, with nothing written, rolls back). Spends
 * the invite's use here, in the same transaction as the account's insert.
 */
export async function admitSignup(deps: Deps, tx: Db, opts: { invite?: string | undefined }): Promise<Admission> {
  const s = await instanceSettings(deps);
  // Closed means nobody, the first account included (`sidechain admin create-owner` makes the owner then).
  if (s.registration === "closed") throw errors.forbidden("registration_closed", "This server does not accept new accounts");
  const [someone] = await tx.select({ id: users.id }).from(users).limit(1);
  if (!someone) return { approval: "approved", inviteId: null };
  if (opts.invite) return { approval: "approved", inviteId: (await spendInvite(deps, tx, opts.invite)).id };
  if (s.registration === "invite") {
    throw errors.forbidden("invite_required", "This server accepts new accounts by invitation only: open the invite link you were sent");
  }
  if (s.registration === "approval") {
    // Counted in the write transaction that adds the new one: the cap holds under concurrent sign-ups.
    if ((await pendingCount(tx)) >= s.approval_queue_limit) {
      throw errors.forbidden("approval_queue_full", "Too many sign-ups are waiting for the staff already: please try again in a few days");
    }
    return { approval: "pending", inviteId: null };
  }
  return { approval: "approved", inviteId: null };
}

export async function pendingCount(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(users).where(eq(users.approval, "pending"));
  return Number(row?.n ?? 0);
}

/** A note as stored: trimmed, at most SIGNUP_NOTE_MAX characters (a longer one is refused by the caller's schema). */
export function signupNoteProblem(note: string | undefined): string | null {
  return note !== undefined && note.length > SIGNUP_NOTE_MAX ? `At most ${SIGNUP_NOTE_MAX} characters` : null;
}

const limiters = new WeakMap<RateLimits, WindowLimiter>();
const staffMailLimiter = (deps: Deps) => {
  let l = limiters.get(deps.limits);
  if (!l) limiters.set(deps.limits, (l = deps.limits.window({ name: "signup-staff-mail", limit: 1, windowMs: STAFF_MAIL_EVERY_MS })));
  return l;
};

/**
 * After a pending sign-up committed: mails each owner and moderator with a confirmed address that someone asks to
 * join, unless they had such a mail within STAFF_MAIL_EVERY_MS. Best effort: a failure is logged, the sign-up stands.
 */
export async function tellStaffOfSignup(deps: Deps): Promise<void> {
  try {
    const staff = await deps.database.db
      .select({ id: users.id, email: users.email })
      .from(users)
      .where(and(inArray(users.role, ["owner", "moderator"]), eq(users.emailVerified, true), isNotNull(users.email), isNull(users.suspendedAt)));
    if (!staff.length) return;
    const waiting = await pendingCount(deps.database.db);
    const site = (await instanceSettings(deps)).name;
    for (const s of staff) {
      try {
        await staffMailLimiter(deps).hit(s.id);
      } catch (err) {
        if (err instanceof ApiError && err.status === 429) continue;
        throw err;
      }
      await deps.mailer.send(
        message(
          s.email!,
          `${waiting} sign-up${waiting === 1 ? "" : "s"} waiting on ${site}`,
          [
            `Someone asked to join ${site}. ${waiting === 1 ? "1 sign-up is" : `${waiting} sign-ups are`} waiting for the staff to approve or reject.`,
            `You get at most one of these mails every ${STAFF_MAIL_EVERY_MS / 60_000} minutes.`,
          ],
          { url: `${deps.config.PUBLIC_URL}/admin/signups`, label: "Review the sign-ups" },
        ),
      );
    }
  } catch (err) {
    deps.log.warn("could not mail the staff about a sign-up", errorFields(err));
  }
}

// Sign-ups waiting for approval (README "Invites and approval"): staff approve one (the account can sign in; it is
// mirrored to Stream.io now) or reject it (the waiting account is deleted, so the address may apply again later).
// The applicant gets a mail either way; every decision is audited. One service for the admin API, /admin/signups
// and the command line.
import { and, asc, eq } from "drizzle-orm";
import { message } from "../auth/mail.ts";
import { users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { mirrorUserCreated } from "../integrations/stream.ts";
import { errorFields } from "../log.ts";
import { instanceSettings } from "../system/settings.ts";
import type { UserRow } from "../users/service.ts";
import { type Actor, audit } from "./audit.ts";
import { staffOf } from "./users.ts";

/** The waiting sign-ups, oldest first. */
export function listPendingSignups(deps: Pick<Deps, "database">, limit = 200): Promise<UserRow[]> {
  return deps.database.db.select().from(users).where(eq(users.approval, "pending")).orderBy(asc(users.createdAt), asc(users.id)).limit(limit);
}

const notPending = () => errors.conflict("not_pending", "This account is not waiting for approval");

/** Lets a waiting account in. Approving one that is not waiting (approved already, or rejected) is a 409. */
export async function approveSignup(deps: Deps, actor: Actor, target: UserRow, reason = ""): Promise<UserRow> {
  await staffOf(deps, actor);
  const now = deps.clock.now();
  const done = await deps.database.tx(async (tx) => {
    const changed = await tx
      .update(users)
      .set({ approval: "approved", updatedAt: now })
      .where(and(eq(users.id, target.id), eq(users.approval, "pending")))
      .returning({ id: users.id });
    if (!changed.length) return false;
    await mirrorUserCreated(deps, tx, target.id);
    await audit(deps, tx, actor, { action: "signup.approve", targetType: "user", targetId: target.id, targetLabel: target.username, reason });
    return true;
  });
  if (!done) throw notPending();
  const site = (await instanceSettings(deps)).name;
  await tell(deps, target, `Welcome to ${site}`, [`The staff of ${site} approved your sign-up. You can sign in now as @${target.username}.`], {
    url: `${deps.config.PUBLIC_URL}/signin`,
    label: "Sign in",
  });
  return { ...target, approval: "approved", updatedAt: now };
}

/** Turns a waiting account down: it is deleted (it has no loops, follows or sessions), and told, with the reason if given. */
export async function rejectSignup(deps: Deps, actor: Actor, target: UserRow, reason = ""): Promise<void> {
  await staffOf(deps, actor);
  const done = await deps.database.tx(async (tx) => {
    const gone = await tx
      .delete(users)
      .where(and(eq(users.id, target.id), eq(users.approval, "pending")))
      .returning({ id: users.id });
    if (!gone.length) return false;
    await audit(deps, tx, actor, {
      action: "signup.reject",
      targetType: "user",
      targetId: target.id,
      targetLabel: target.username,
      reason,
      details: { email: target.email ?? "" },
    });
    return true;
  });
  if (!done) throw notPending();
  const site = (await instanceSettings(deps)).name;
  await tell(deps, target, `Your sign-up to ${site}`, [
    `The staff of ${site} did not approve your sign-up as @${target.username}.`,
    ...(reason ? [`Their reason: ${reason}`] : []),
    "Your details were deleted. You may apply again later.",
  ]);
}

async function tell(deps: Deps, to: UserRow, subject: string, lines: string[], link?: { url: string; label: string }) {
  if (!to.email) return;
  await deps.mailer.send(message(to.email, subject, lines, link)).catch((err) => deps.log.warn("could not mail a sign-up decision", errorFields(err)));
}

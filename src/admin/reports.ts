// Reports (docs/security.md "Roles and staff actions"): a member reports a loop, a comment or a user to the staff with
// a reason and an optional note; staff see the open reports, oldest first, and close one by dismissing it, removing the
// loop (its producer is told why by mail), deleting the comment (with its replies) or suspending the account. Closing
// acts on the target, so every open report of it closes with the same outcome, and each reporter is told by mail.
// Everything is audited.
import { and, asc, eq, gt, inArray, or, sql } from "drizzle-orm";
import { mailBudgetAllows, message } from "../auth/mail.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { comments, posts, reports, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { mirrorPostDeleted } from "../integrations/stream.ts";
import { newId } from "../lib/crypto.ts";
import { normalizeText, textProblem } from "../lib/text.ts";
import { findVisiblePost, removePostMedia } from "../posts/service.ts";
import { commentForReport, removeComment } from "../social/comments.ts";
import { instanceSettings } from "../system/settings.ts";
import { findUserByIdOrUsername } from "../users/profile.ts";
import type { UserRow } from "../users/service.ts";
import { type Actor, audit } from "./audit.ts";
import { staffOf, suspendAccount } from "./users.ts";

export const REPORT_REASONS = ["spam", "harassment", "copyright", "inappropriate", "other"] as const;
export type ReportReason = (typeof REPORT_REASONS)[number];
export type ReportRow = typeof reports.$inferSelect;
export const REPORT_ACTIONS = ["dismiss", "remove_loop", "delete_loop", "delete_comment", "suspend_user"] as const;
export const REPORT_TARGETS = ["post", "user", "comment"] as const;
export type ReportAction = (typeof REPORT_ACTIONS)[number];

const NOTE_MAX = 1000;

function cleanNote(raw: string | undefined, field: string): string {
  const note = normalizeText(raw ?? "", true);
  const problem = textProblem(note, true) ?? ([...note].length > NOTE_MAX ? `At most ${NOTE_MAX} characters` : null);
  if (problem) throw errors.validation({ [field]: problem });
  return note;
}

/** A member's report of a loop or comment they can see, or of another account; 409 while their earlier one is open. */
export async function fileReport(
  deps: Deps,
  reporter: UserRow,
  input: { target_type: (typeof REPORT_TARGETS)[number]; target_id: string; reason: ReportReason; note?: string },
): Promise<ReportRow> {
  const note = cleanNote(input.note, "note");
  let targetUserId: string;
  let targetLabel: string;
  let targetId = input.target_id;
  if (input.target_type === "comment") {
    const { comment, label } = await commentForReport(deps, input.target_id, reporter.id);
    if (comment.userId === reporter.id) throw errors.validation({ target_id: "That is your own comment" });
    targetUserId = comment.userId;
    targetLabel = label;
    targetId = comment.id;
  } else if (input.target_type === "post") {
    const row = await findVisiblePost(deps, input.target_id.slice(0, 64), reporter.id);
    if (row?.post.status !== "ready") throw errors.notFound("post_not_found", "No such loop");
    if (row.post.userId === reporter.id) throw errors.validation({ target_id: "That is your own loop" });
    targetUserId = row.post.userId;
    targetLabel = row.post.title || "Untitled loop";
  } else {
    const user = await findUserByIdOrUsername(deps, input.target_id);
    if (!user) throw errors.notFound("user_not_found", "No such user");
    if (user.id === reporter.id) throw errors.validation({ target_id: "That is you" });
    targetUserId = user.id;
    targetLabel = `@${user.username}`;
  }
  const row: ReportRow = {
    id: newId(),
    reporterId: reporter.id,
    targetType: input.target_type,
    targetId: input.target_type === "user" ? targetUserId : targetId,
    targetUserId,
    targetLabel,
    reason: input.reason,
    note,
    status: "open",
    resolution: "",
    resolvedBy: "",
    resolutionNote: "",
    resolvedAt: null,
    createdAt: deps.clock.now(),
  };
  try {
    await deps.database.tx((tx) => tx.insert(reports).values(row));
  } catch (err) {
    if (isUniqueViolation(err)) throw errors.conflict("already_reported", "You reported this already; the staff will look at it");
    throw err;
  }
  return row;
}

/** Reports of one status, oldest first (the queue), after the cursor (created_at, id). */
export async function listReports(deps: Pick<Deps, "database">, opts: { status: "open" | "closed"; limit: number; after?: { createdAt: number; id: string } }) {
  const a = opts.after;
  return deps.database.db
    .select()
    .from(reports)
    .where(
      and(
        eq(reports.status, opts.status),
        a ? or(gt(reports.createdAt, a.createdAt), and(eq(reports.createdAt, a.createdAt), gt(reports.id, a.id))) : undefined,
      ),
    )
    .orderBy(asc(reports.createdAt), asc(reports.id))
    .limit(opts.limit);
}

const OUTCOME: Record<ReportAction, string> = {
  dismiss: "dismissed",
  remove_loop: "loop_removed",
  delete_loop: "loop_deleted",
  delete_comment: "comment_deleted",
  suspend_user: "user_suspended",
};

/**
 * Closes an open report by acting on its target: every open report of the same target closes with it. Returns the
 * closed report. 404 report_not_found, 409 report_closed (someone closed it first), 400 for an action that does not
 * fit the target (a user cannot be removed as a loop).
 */
export async function resolveReport(deps: Deps, actor: Actor, reportId: string, action: ReportAction, rawNote?: string): Promise<ReportRow> {
  await staffOf(deps, actor);
  const note = cleanNote(rawNote, "note");
  const [report] = await deps.database.db.select().from(reports).where(eq(reports.id, reportId)).limit(1);
  if (!report) throw errors.notFound("report_not_found", "No such report");
  if (report.status !== "open") throw errors.conflict("report_closed", "This report was closed already");
  const onLoop = action === "remove_loop" || action === "delete_loop";
  if (onLoop && report.targetType !== "post") throw errors.validation({ action: "This report is not about a loop" });
  if (action === "delete_comment" && report.targetType !== "comment") throw errors.validation({ action: "This report is not about a comment" });
  if (action !== "dismiss" && !note) throw errors.validation({ note: "Say why: the producer is told" });

  if (action === "suspend_user") {
    const [target] = report.targetUserId ? await deps.database.db.select().from(users).where(eq(users.id, report.targetUserId)).limit(1) : [];
    if (!target) throw errors.notFound("user_not_found", "The reported account is gone");
    await suspendAccount(deps, actor, target, note);
  }
  const now = deps.clock.now();
  const { closed, producerMail } = await deps.database.tx(async (tx) => {
    let producerMail: { to: string; title: string } | null = null;
    // A takedown keeps the loop's row and media (status `removed`: only its producer sees it, with the note); a
    // deletion removes them, as its producer deleting it would (the media after the commit).
    const live = and(eq(posts.id, report.targetId), or(eq(posts.status, "ready"), eq(posts.status, "withheld")));
    const fields = { id: posts.id, userId: posts.userId, title: posts.title, status: posts.status };
    const [gone] =
      action === "remove_loop"
        ? await tx.update(posts).set({ status: "removed", errorCode: "removed_by_staff", error: note, updatedAt: now }).where(live).returning(fields)
        : action === "delete_loop"
          ? await tx.delete(posts).where(eq(posts.id, report.targetId)).returning(fields)
          : [];
    if (action === "delete_comment") {
      // Gone already (its author or the producer deleted it) is fine: the reports close all the same.
      const [c] = await tx.select().from(comments).where(eq(comments.id, report.targetId)).limit(1);
      if (c) await removeComment(tx, c);
    }
    if (gone) {
      // post_count counts ready loops: recounted (the loop may have been withheld or removed already).
      await tx
        .update(users)
        .set({ postCount: sqlCountReady(gone.userId) })
        .where(eq(users.id, gone.userId));
      if (gone.status === "ready" || gone.status === "withheld") await mirrorPostDeleted(deps, tx, gone.id, gone.userId);
      const [owner] = await tx.select({ email: users.email }).from(users).where(eq(users.id, gone.userId)).limit(1);
      if (owner?.email) producerMail = { to: owner.email, title: gone.title || "Untitled loop" };
    }
    const rows = await tx
      .update(reports)
      .set({ status: "closed", resolution: OUTCOME[action], resolvedBy: actor.label, resolutionNote: note, resolvedAt: now })
      .where(and(eq(reports.targetType, report.targetType), eq(reports.targetId, report.targetId), eq(reports.status, "open")))
      .returning();
    await audit(deps, tx, actor, {
      action: "report.resolve",
      targetType: "report",
      targetId: report.id,
      targetLabel: report.targetLabel,
      reason: note,
      details: { outcome: OUTCOME[action], target_type: report.targetType, target_id: report.targetId, reports_closed: rows.length },
    });
    return { closed: rows, producerMail };
  });
  if (action === "delete_loop") await removePostMedia(deps, report.targetId);
  // Mails after the commit, within each address's hourly budget.
  const site = (await instanceSettings(deps)).name;
  if (producerMail && (await mailBudgetAllows(deps, producerMail.to))) {
    await deps.mailer.send(
      message(producerMail.to, `Your loop "${producerMail.title}" was ${action === "delete_loop" ? "deleted" : "removed"}`, [
        `The staff of ${site} ${action === "delete_loop" ? "deleted" : "removed"} your loop "${producerMail.title}".`,
        `Their reason: ${note}`,
        "If you think this is a mistake, reply to the community's contact.",
      ]),
    );
  }
  const reporterIds = [...new Set(closed.map((r) => r.reporterId).filter((id): id is string => id !== null))];
  const reporters = reporterIds.length ? await deps.database.db.select({ email: users.email }).from(users).where(inArray(users.id, reporterIds)) : [];
  const outcome = {
    dismiss: "They looked at it and took no action.",
    remove_loop: "They removed the loop.",
    delete_loop: "They deleted the loop.",
    delete_comment: "They deleted the comment.",
    suspend_user: "They suspended the account.",
  }[action];
  for (const { email } of reporters) {
    if (!email || !(await mailBudgetAllows(deps, email))) continue;
    await deps.mailer.send(
      message(email, `Your report about ${report.targetLabel} was reviewed`, [`Thank you for your report to the staff of ${site}.`, outcome]),
    );
  }
  return closed.find((r) => r.id === report.id) ?? closed[0]!;
}

/** A producer's post_count: their ready loops, counted in the statement that writes it. */
const sqlCountReady = (userId: string) => sql<number>`(SELECT count(*) FROM ${posts} WHERE ${posts.userId} = ${userId} AND ${posts.status} = 'ready')`;

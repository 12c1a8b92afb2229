// The audit log (docs/security.md "Roles and staff actions"): every staff action is written in the transaction that
// makes it, with who did it (a staff account, or "cli" for the command line), to what, why and when.
import { and, desc, eq, lt, or } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { auditLog } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { newId } from "../lib/crypto.ts";

/** Who acts: a staff member (their id and @username) or the command line. */
export type Actor = { id: string | null; label: string };
export const CLI_ACTOR: Readonly<Actor> = Object.freeze({ id: null, label: "cli" });
export const actorOf = (u: { id: string; username: string }): Actor => ({ id: u.id, label: `@${u.username}` });

export type AuditEntry = {
  action: string;
  targetType: "user" | "post" | "report" | "invite" | "settings" | "job";
  targetId: string;
  targetLabel?: string;
  reason?: string;
  details?: Record<string, unknown>;
};

export async function audit(deps: Pick<Deps, "clock">, tx: Db, actor: Actor, e: AuditEntry): Promise<void> {
  await tx.insert(auditLog).values({
    id: newId(),
    actorId: actor.id,
    actor: actor.label,
    action: e.action,
    targetType: e.targetType,
    targetId: e.targetId,
    targetLabel: e.targetLabel ?? "",
    reason: e.reason ?? "",
    details: e.details ?? {},
    createdAt: deps.clock.now(),
  });
}

export type AuditRow = typeof auditLog.$inferSelect;

/** Newest first: `limit` entries, older than the (created_at, id) cursor when given. */
export async function listAudit(deps: Pick<Deps, "database">, opts: { limit: number; before?: { createdAt: number; id: string } }): Promise<AuditRow[]> {
  const b = opts.before;
  return deps.database.db
    .select()
    .from(auditLog)
    .where(b ? or(lt(auditLog.createdAt, b.createdAt), and(eq(auditLog.createdAt, b.createdAt), lt(auditLog.id, b.id))) : undefined)
    .orderBy(desc(auditLog.createdAt), desc(auditLog.id))
    .limit(opts.limit);
}

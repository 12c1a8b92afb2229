// The database schema (drizzle). `npm run db:generate` turns changes here into a new SQL migration in drizzle/.
// Conventions (shared/DESIGN.md "Data rules"): ids are our own ULID-like strings, timestamps are integer ms.
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Facts about this installation (e.g. its id), written once at first start. */
export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/**
 * The durable job queue (src/jobs/queue.ts). A job is claimed by setting a lease; a worker that dies lets its
 * lease expire and another instance picks the job up again. `dedupe_key` makes enqueueing idempotent.
 */
export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    payload: text("payload", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
    /** queued | running | done | failed */
    status: text("status").notNull().default("queued"),
    dedupeKey: text("dedupe_key").unique(),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(5),
    runAt: integer("run_at").notNull(),
    leaseUntil: integer("lease_until"),
    lockedBy: text("locked_by"),
    progress: integer("progress").notNull().default(0),
    lastError: text("last_error"),
    result: text("result", { mode: "json" }).$type<Record<string, unknown>>(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (t) => [index("jobs_claim_idx").on(t.status, t.runAt), index("jobs_lease_idx").on(t.status, t.leaseUntil)],
);

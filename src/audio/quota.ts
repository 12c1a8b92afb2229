// Upload quotas (README "Upload quotas"). Two layers:
// - the community's quotas, settings its owner changes while the server runs (src/system/settings.ts): loops a member
//   may upload per UTC day and megabytes of originals a member may keep, 0 for no limit. Staff may give one member
//   their own values (users.upload_quota_per_day / upload_quota_mb; null takes the community's). Staff have none.
// - the operator's hard limits from the environment (USER_MAX_LOOPS, USER_MAX_BYTES), for every account.
// A failed upload counts for neither (its files are gone). Checked before the file is inspected (a cheap refusal)
// and again in the transaction that writes the post, so two uploads at once cannot both take the last place.
import { and, eq, ne, sql } from "drizzle-orm";
import { t } from "elysia";
import type { Db } from "../db/client.ts";
import { posts, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { byteSize } from "../lib/text.ts";
import { instanceSettings } from "../system/settings.ts";
import { isStaff } from "../users/service.ts";

const MB = 1024 * 1024;
const DAY_MS = 86_400_000;

export const QuotaSchema = t.Object(
  {
    loops_today: t.Integer({ description: "loops uploaded since 00:00 UTC (failed ones do not count)" }),
    loops_per_day: t.Integer({ description: "how many a day you may upload; 0 for no limit" }),
    bytes_used: t.Integer({ description: "bytes of your originals kept on this server" }),
    bytes_quota: t.Integer({ description: "how many bytes you may keep; 0 for no limit" }),
    resets_at: t.Integer({ description: "when the day's count starts again (ms since the epoch, the next 00:00 UTC)" }),
  },
  { examples: [{ loops_today: 3, loops_per_day: 50, bytes_used: 48_000_000, bytes_quota: 2_147_483_648, resets_at: 1_765_065_600_000 }] },
);
export type Quota = typeof QuotaSchema.static;

type Usage = Quota & { kept: number };

/** A user's quotas and usage now, with how many loops they keep (for the operator's USER_MAX_LOOPS). */
async function usageOf(deps: Deps, userId: string, db: Db): Promise<Usage> {
  const now = deps.clock.now();
  const dayStart = now - (now % DAY_MS);
  const [[user], [usage], settings] = await Promise.all([
    db.select({ role: users.role, perDay: users.uploadQuotaPerDay, mb: users.uploadQuotaMb }).from(users).where(eq(users.id, userId)).limit(1),
    db
      .select({
        n: sql<number>`count(*)`,
        today: sql<number>`coalesce(sum(${posts.createdAt} >= ${dayStart}), 0)`,
        bytes: sql<number>`coalesce(sum(${posts.originalBytes}), 0)`,
      })
      .from(posts)
      .where(and(eq(posts.userId, userId), ne(posts.status, "failed"))),
    instanceSettings(deps),
  ]);
  if (!user) throw errors.unauthorized("unauthorized", "Sign in first");
  const member = !isStaff(user);
  const perDay = member ? (user.perDay ?? settings.upload_quota_per_day) : 0;
  const limits = [member ? (user.mb ?? settings.upload_quota_mb) * MB : 0, deps.config.USER_MAX_BYTES].filter((n) => n > 0);
  return {
    loops_today: Number(usage?.today ?? 0),
    loops_per_day: perDay,
    bytes_used: Number(usage?.bytes ?? 0),
    bytes_quota: limits.length ? Math.min(...limits) : 0,
    resets_at: dayStart + DAY_MS,
    kept: Number(usage?.n ?? 0),
  };
}

/** A user's quotas and usage now: the stricter of the community's (or their own) and the operator's. */
export async function uploadQuota(deps: Deps, userId: string): Promise<Quota> {
  const { kept: _, ...quota } = await usageOf(deps, userId, deps.database.db);
  return quota;
}

/** Refuses (403 quota_exceeded, saying which limit and until when) an upload of `bytes` that would go over a quota. */
export async function checkQuota(deps: Deps, userId: string, bytes: number, db: Db = deps.database.db): Promise<void> {
  const q = await usageOf(deps, userId, db);
  const { USER_MAX_LOOPS } = deps.config;
  if (USER_MAX_LOOPS && q.kept >= USER_MAX_LOOPS) {
    throw errors.forbidden("quota_exceeded", `This server keeps at most ${USER_MAX_LOOPS} loops per producer`);
  }
  if (q.loops_per_day && q.loops_today >= q.loops_per_day) {
    const at = new Date(q.resets_at).toISOString().slice(11, 16);
    throw errors.forbidden("quota_exceeded", `You can upload ${q.loops_per_day} loops a day on this server; try again after ${at} UTC`);
  }
  if (q.bytes_quota && q.bytes_used + bytes > q.bytes_quota) {
    throw errors.forbidden(
      "quota_exceeded",
      `Your loops use ${byteSize(q.bytes_used)} of your ${byteSize(q.bytes_quota)} on this server; delete some to upload this one`,
    );
  }
}

// Who hides whom (README "Blocking and muting"): the reads every feature asks before showing one user's things to
// another. A query module of its own (like follow-states.ts), so posts, users, realtime and the web pages can import it
// without importing the block service, which imports them back. Each function is one indexed statement: the blocks
// primary key (blocker_id, blocked_id), blocks_blocked_idx (blocked_id, blocker_id) and the mutes primary key.
import { and, eq, or, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { queryRows } from "../db/prepared.ts";
import type { Db } from "../db/client.ts";
import { blocks } from "../db/schema.ts";
import type { Deps } from "../deps.ts";

/** True when either of the two blocks the other (a block hides both ways). `db` may be a transaction. */
export async function blockedBetween(db: Db, a: string, b: string): Promise<boolean> {
  if (a === b) return false;
  const [row] = await db
    .select({ x: blocks.blockerId })
    .from(blocks)
    .where(or(and(eq(blocks.blockerId, a), eq(blocks.blockedId, b)), and(eq(blocks.blockerId, b), eq(blocks.blockedId, a))))
    .limit(1);
  return row !== undefined;
}

/**
 * "`viewerId` and the user in `userColumn` block each other (either way)", as an expression for a query's select, so a
 * read that finds a post or user answers visibility in the same statement. Without a viewer, 0.
 */
export function blockedWith(viewerId: string | null, userColumn: SQLiteColumn): SQL<number> {
  if (!viewerId) return sql<number>`0`;
  return sql<number>`EXISTS (SELECT 1 FROM ${blocks} WHERE (${blocks.blockerId} = ${viewerId} AND ${blocks.blockedId} = ${userColumn})
    OR (${blocks.blockerId} = ${userColumn} AND ${blocks.blockedId} = ${viewerId}))`;
}

/** The viewer's relation to another user: whether the viewer blocks them, is blocked by them, mutes them. */
export type Relation = { blocking: boolean; blocked_by: boolean; muting: boolean };

const NONE: Relation = { blocking: false, blocked_by: false, muting: false };

export const BLOCK_SQL = {
  /** The viewer's relation to one user. Params: viewer, other, other, viewer, viewer, other. */
  relation: `SELECT 'b' AS k FROM blocks WHERE blocker_id = ? AND blocked_id = ?
UNION ALL SELECT 'y' FROM blocks WHERE blocker_id = ? AND blocked_id = ?
UNION ALL SELECT 'm' FROM mutes WHERE muter_id = ? AND muted_id = ?`,
  /** Which of a list of users the viewer blocks or is blocked by. Params: viewer, JSON ids, viewer, JSON ids. */
  blockedAmong: `SELECT blocked_id AS id FROM blocks WHERE blocker_id = ? AND blocked_id IN (SELECT value FROM json_each(?))
UNION SELECT blocker_id FROM blocks WHERE blocked_id = ? AND blocker_id IN (SELECT value FROM json_each(?))`,
  /** Everyone a user blocks, is blocked by, or mutes. Params: user, user, user. */
  hidden: `SELECT 'b' AS k, blocked_id AS id FROM blocks WHERE blocker_id = ?
UNION ALL SELECT 'b', blocker_id FROM blocks WHERE blocked_id = ?
UNION ALL SELECT 'm', muted_id FROM mutes WHERE muter_id = ?`,
} as const;

/** One statement (a UNION ALL of three primary-key probes). Without a viewer, or towards yourself, nothing. */
export async function relationTo(deps: Pick<Deps, "database">, viewerId: string | null, otherId: string): Promise<Relation> {
  if (!viewerId || viewerId === otherId) return { ...NONE };
  const rows = await queryRows<{ k: string }>(deps.database, BLOCK_SQL.relation, [viewerId, otherId, otherId, viewerId, viewerId, otherId]);
  const has = (k: string) => rows.some((r) => r.k === k);
  return { blocking: has("b"), blocked_by: has("y"), muting: has("m") };
}

/** The ones of `userIds` the viewer blocks or is blocked by, for a page of users (one statement whatever its size). */
export async function blockedAmong(deps: Pick<Deps, "database">, viewerId: string | null, userIds: readonly string[]): Promise<Set<string>> {
  if (!viewerId || userIds.length === 0) return new Set();
  const ids = JSON.stringify([...new Set(userIds)]);
  return new Set((await queryRows<{ id: string }>(deps.database, BLOCK_SQL.blockedAmong, [viewerId, ids, viewerId, ids])).map((r) => r.id));
}

/** What a user does not see of others: `blocked` (either way: hidden everywhere) and `muted` (hidden from their feeds). */
export type Hidden = { blocked: ReadonlySet<string>; muted: ReadonlySet<string> };

/** Everyone hidden from `userId`, for the WebSocket's delivery filter (realtime/hub.ts): one statement. */
export async function hiddenFrom(deps: Pick<Deps, "database">, userId: string): Promise<Hidden> {
  const rows = await queryRows<{ k: string; id: string }>(deps.database, BLOCK_SQL.hidden, [userId, userId, userId]);
  const blocked = new Set<string>();
  const muted = new Set<string>();
  for (const r of rows) (r.k === "b" ? blocked : muted).add(r.id);
  return { blocked, muted };
}

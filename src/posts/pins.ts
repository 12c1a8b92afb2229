// Loops pinned to a producer's profile (README "Pinned loops"): at most MAX_PINS of their own ready loops, shown first
// on the profile in the producer's order. `posts.pin_order` holds the position (1..MAX_PINS, no gaps: unpinning or
// reordering renumbers the others in the same transaction); null means not pinned. A loop that stops being ready
// (taken down, withheld) keeps its place but is not shown; deleting it frees the place (the others close up at the
// next pin change: every change renumbers the producer's pins).
import { and, asc, eq, isNotNull, ne } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { posts, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";

export const MAX_PINS = 3;

export type PinState = { is_pinned: boolean; pin_order: number };

/** The caller's own ready loop, in the transaction: 404 for anyone else's (as if unknown), 409 while not ready. */
async function ownLoop(tx: Db, userId: string, postId: string) {
  const [p] = await tx
    .select({ id: posts.id, userId: posts.userId, status: posts.status, pinOrder: posts.pinOrder })
    .from(posts)
    .where(eq(posts.id, postId))
    .limit(1);
  if (!p || p.userId !== userId) throw errors.notFound("post_not_found", "No such loop of yours");
  return p;
}

/** The producer's pinned loops in order (ids), in the transaction. */
async function pinnedIds(tx: Db, userId: string, except?: string): Promise<string[]> {
  const rows = await tx
    .select({ id: posts.id })
    .from(posts)
    .where(and(eq(posts.userId, userId), isNotNull(posts.pinOrder), except ? ne(posts.id, except) : undefined))
    .orderBy(asc(posts.pinOrder));
  return rows.map((r) => r.id);
}

/** Writes positions 1..n for `ids` in this order. */
async function renumber(tx: Db, ids: string[]) {
  for (const [i, id] of ids.entries())
    await tx
      .update(posts)
      .set({ pinOrder: i + 1 })
      .where(eq(posts.id, id));
}

/** Pins the loop last among the pinned (idempotent). 409 pin_limit when MAX_PINS are pinned already. */
export function pinPost(deps: Deps, userId: string, postId: string): Promise<PinState> {
  return deps.database.tx(async (tx) => {
    const p = await ownLoop(tx, userId, postId);
    if (p.pinOrder !== null) return { is_pinned: true, pin_order: p.pinOrder };
    if (p.status !== "ready") throw errors.conflict("post_not_ready", "Only a published loop can be pinned");
    const ids = await pinnedIds(tx, userId);
    if (ids.length >= MAX_PINS) throw errors.conflict("pin_limit", `At most ${MAX_PINS} loops can be pinned: unpin one first`);
    await renumber(tx, ids);
    await tx
      .update(posts)
      .set({ pinOrder: ids.length + 1, updatedAt: deps.clock.now() })
      .where(eq(posts.id, postId));
    return { is_pinned: true, pin_order: ids.length + 1 };
  });
}

/** Unpins the loop (idempotent); the loops after it move up. */
export function unpinPost(deps: Deps, userId: string, postId: string): Promise<PinState> {
  return deps.database.tx(async (tx) => {
    const p = await ownLoop(tx, userId, postId);
    if (p.pinOrder === null) return { is_pinned: false, pin_order: 0 };
    await tx.update(posts).set({ pinOrder: null, updatedAt: deps.clock.now() }).where(eq(posts.id, postId));
    await renumber(tx, await pinnedIds(tx, userId));
    return { is_pinned: false, pin_order: 0 };
  });
}

/**
 * Pins or unpins, whichever changes it: the plugin's pin (a POST without a body) and unpin (a DELETE) both arrive as
 * `GET /posts/{id}/pin` (docs/plugin-contract.md "Transport rules").
 */
export async function togglePin(deps: Deps, userId: string, postId: string): Promise<PinState> {
  const p = await ownLoop(deps.database.db, userId, postId);
  return p.pinOrder === null ? pinPost(deps, userId, postId) : unpinPost(deps, userId, postId);
}

/** Moves a pinned loop to position `order` (1..number pinned); the others keep their relative order. */
export function setPinOrder(deps: Deps, userId: string, postId: string, order: number): Promise<PinState> {
  return deps.database.tx(async (tx) => {
    const p = await ownLoop(tx, userId, postId);
    if (p.pinOrder === null) throw errors.conflict("not_pinned", "Pin the loop before ordering it");
    const others = await pinnedIds(tx, userId, postId);
    if (!Number.isInteger(order) || order < 1 || order > others.length + 1) {
      throw errors.validation({ order: `A position from 1 to ${others.length + 1}` });
    }
    others.splice(order - 1, 0, postId);
    await renumber(tx, others);
    return { is_pinned: true, pin_order: order };
  });
}

/** Whether the loop is pinned (anyone may ask about a loop they can see; the caller checked that). */
export async function pinState(deps: Deps, postId: string): Promise<PinState> {
  const [p] = await deps.database.db.select({ pinOrder: posts.pinOrder }).from(posts).where(eq(posts.id, postId)).limit(1);
  return { is_pinned: p?.pinOrder != null, pin_order: p?.pinOrder ?? 0 };
}

/** The producer's pinned loops that are shown (ready), in order, with their author (for enrichPosts). */
export function pinnedPosts(deps: Deps, userId: string) {
  return deps.database.db
    .select({ post: posts, author: { id: users.id, username: users.username, displayName: users.displayName, avatarKey: users.avatarKey } })
    .from(posts)
    .innerJoin(users, eq(users.id, posts.userId))
    .where(and(eq(posts.userId, userId), isNotNull(posts.pinOrder), eq(posts.status, "ready")))
    .orderBy(asc(posts.pinOrder))
    .limit(MAX_PINS);
}

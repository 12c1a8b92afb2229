// One-time tokens (email verification, password reset, set-password, "this was not me"): ≥ 256 bits from the
// CSPRNG, stored as SHA-256, single use, short expiry, purpose-bound and newest-only (unless the caller keeps the
// others: a stranger's registration attempt must not cancel the owner's links).
import { and, eq, gt, isNull } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { oneTimeTokens } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { newId, randomToken, sha256 } from "../lib/crypto.ts";

export type Purpose = "verify_email" | "reset_password" | "set_password" | "disown_account" | "data_export";

export const TOKEN_TTL_MS: Record<Purpose, number> = {
  reset_password: 30 * 60_000,
  set_password: 24 * 3600_000,
  verify_email: 24 * 3600_000,
  // "This was not me" in a verification mail: read late is still in time.
  disown_account: 7 * 24 * 3600_000,
  // A data export's download link (src/users/export.ts): live until its zip is deleted, used any number of times.
  data_export: 7 * 24 * 3600_000,
};

/**
 * Issues a new token. Older unused tokens of the same purpose for the user stop working (newest-only), unless
 * `keepOthers`: then the new one is issued beside them (a link sent because of someone else's action). `token` and
 * `expiresAt` are for a caller that named something after the token before issuing it (a data export's zip).
 */
export async function createOneTimeToken(
  deps: Deps,
  db: Db,
  userId: string,
  purpose: Purpose,
  email?: string | null,
  opts: { keepOthers?: boolean; token?: string; expiresAt?: number } = {},
) {
  const now = deps.clock.now();
  if (!opts.keepOthers) {
    await db
      .update(oneTimeTokens)
      .set({ usedAt: now })
      .where(and(eq(oneTimeTokens.userId, userId), eq(oneTimeTokens.purpose, purpose), isNull(oneTimeTokens.usedAt)));
  }
  const token = opts.token ?? randomToken();
  await db.insert(oneTimeTokens).values({
    id: newId(),
    purpose,
    tokenHash: sha256(token),
    userId,
    email: email ?? null,
    expiresAt: opts.expiresAt ?? now + TOKEN_TTL_MS[purpose],
    createdAt: now,
  });
  return token;
}

/**
 * Redeems a token for one purpose: one atomic UPDATE marks it used only if it is unused, unexpired and of that
 * purpose, so two concurrent redemptions cannot both succeed.
 */
export async function redeemOneTimeToken(deps: Deps, db: Db, token: string, purpose: Purpose) {
  const now = deps.clock.now();
  const [row] = await db
    .update(oneTimeTokens)
    .set({ usedAt: now })
    .where(and(eq(oneTimeTokens.tokenHash, sha256(token)), eq(oneTimeTokens.purpose, purpose), isNull(oneTimeTokens.usedAt), gt(oneTimeTokens.expiresAt, now)))
    .returning();
  return row ?? null;
}

/** L7: a credential change invalidates every outstanding one-time token of the user. */
export async function invalidateUserTokens(deps: Deps, db: Db, userId: string) {
  await db
    .update(oneTimeTokens)
    .set({ usedAt: deps.clock.now() })
    .where(and(eq(oneTimeTokens.userId, userId), isNull(oneTimeTokens.usedAt)));
}

/**
 * The token's row when it would redeem for this purpose right now, without spending it: lets a link's page say "this
 * link has expired" before the user types anything. Redemption still re-checks everything atomically.
 */
export async function findLiveOneTimeToken(deps: Deps, token: string, purpose: Purpose) {
  if (typeof token !== "string" || token.length < 20 || token.length > 200) return null;
  const [row] = await deps.database.db
    .select()
    .from(oneTimeTokens)
    .where(
      and(
        eq(oneTimeTokens.tokenHash, sha256(token)),
        eq(oneTimeTokens.purpose, purpose),
        isNull(oneTimeTokens.usedAt),
        gt(oneTimeTokens.expiresAt, deps.clock.now()),
      ),
    )
    .limit(1);
  return row ?? null;
}

export const isOneTimeTokenLive = async (deps: Deps, token: string, purpose: Purpose) => (await findLiveOneTimeToken(deps, token, purpose)) !== null;

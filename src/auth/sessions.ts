// Sessions and tokens (docs/security.md, Sessions): opaque refresh tokens stored as SHA-256, rotated on every use;
// presenting an already rotated token revokes the whole session (reuse detection). The plugin's refresh form trades
// an access token instead, under the same rule: only the session's newest access token (its jti) can be traded, once.
// Sessions slide for SESSION_IDLE_TTL_S of inactivity and end at SESSION_MAX_TTL_S after sign-in whatever happens.
import { and, eq, isNull, lt, ne, or, sql } from "drizzle-orm";
import type { Database, Db } from "../db/client.ts";
import { sessions, signInRequests, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { newId, randomToken, sha256 } from "../lib/crypto.ts";
import { signAccessToken, verifyAccessToken, type TokenType } from "./tokens.ts";
import { publishSessionsRevoked } from "../realtime/events.ts";
import type { PreparedById, SessionWithUser } from "../caches.ts";
import { invalidateUserTokens } from "./one-time.ts";
import { pendingError } from "./signup.ts";

/** How long after its expiry an access token may still be traded by POST /auth/refresh {token} (clock skew, sleep). */
export const ACCESS_TRADE_GRACE_MS = 5 * 60_000;
// Access tokens minted before token ids existed: their session may trade one of them once, then none.
const LEGACY_TOKEN_ID = "legacy";

/**
 * Tells the realtime hub that sessions of a user ended, so their WebSockets close now rather than at the next
 * periodic check. The revocation may be inside a transaction: the notice goes out once it has committed (and not
 * at all if it rolls back), so the hub's re-check sees the revocation.
 */
function noticeRevocation(deps: Deps, userId: string) {
  deps.database.afterCommit(() => publishSessionsRevoked(deps, userId).catch(() => undefined));
}

export type Session = typeof sessions.$inferSelect;
export type ClientInfo = { userAgent?: string; ip?: string };
export type Tokens = { token: string; refresh_token: string; expires_at: string; session_id: string };
export type SessionOptions = {
  /** "browser" only for the sc_session cookie (browser-session.ts); everything else gets API access tokens. */
  tokenType?: TokenType;
  /**
   * When the user last proved a credential, if not now: a device approved from a browser session inherits that
   * session's time, so approving a device never makes a sign-in more recent than it was (L6).
   */
  authenticatedAt?: number;
};

const newTokenId = () => randomToken(16);

/** The answer to a sign-in of a suspended account: what the person sees, with staff's reason when there is one. */
export const suspendedError = (reason: string) =>
  errors.forbidden("account_suspended", `This account is suspended${reason ? `: ${reason}` : ""}. Contact the community's staff.`);

/**
 * Creates a session for a user who just proved a credential, and its first access and refresh tokens. Every
 * sign-in comes here (password, Google/Discord, the plugin's poll, devices, the browser), so this is where a
 * suspended account is refused (403 account_suspended with staff's reason), and so is a waiting sign-up (403
 * approval_pending).
 */
export async function createSession(deps: Deps, userId: string, client: ClientInfo, db: Db = deps.database.db, opts: SessionOptions = {}): Promise<Tokens> {
  const now = deps.clock.now();
  const { config } = deps;
  const [user] = await db
    .select({ suspendedAt: users.suspendedAt, reason: users.suspensionReason, approval: users.approval })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  if (user?.suspendedAt != null) throw suspendedError(user.reason);
  // A sign-up waiting for staff (approval mode, README "Invites and approval") has no session until approved.
  if (user?.approval === "pending") throw pendingError();
  const refresh = randomToken();
  const tokenId = newTokenId();
  const id = newId();
  await db.insert(sessions).values({
    id,
    userId,
    createdAt: now,
    lastUsedAt: now,
    authenticatedAt: Math.min(opts.authenticatedAt ?? now, now),
    expiresAt: Math.min(now + config.SESSION_IDLE_TTL_S * 1000, now + config.SESSION_MAX_TTL_S * 1000),
    absoluteExpiresAt: now + config.SESSION_MAX_TTL_S * 1000,
    userAgent: (client.userAgent ?? "").slice(0, 300),
    ip: client.ip ?? "",
    refreshTokenHash: sha256(refresh),
    accessTokenId: tokenId,
  });
  const { token, expiresAt } = await signToken(deps, { id, userId, absoluteExpiresAt: now + config.SESSION_MAX_TTL_S * 1000 }, tokenId, opts.tokenType);
  return { token, refresh_token: refresh, expires_at: expiresAt.toISOString(), session_id: id };
}

/**
 * Token lifetimes (README "Staying signed in"; docs/security.md, Sessions). An API access token lives as long as
 * its session can: it expires at the session's hard end (SESSION_MAX_TTL_S after sign-in), whichever way it was
 * issued (sign-in, register, OAuth poll, device, refresh, trade). The session row is checked on every request, so
 * the token dies at once with its session (revocation, logout, password change, SESSION_IDLE_TTL_S without use);
 * its own exp only has to stop it outliving the session, and a token's exp cannot slide as the session does. The
 * plugin refreshes only tokens of an interactive sign-in and never one restored at start, so a token shorter than
 * its session would sign it out while the session lives. At the token's end the session has ended too: nothing
 * can refresh it, the client signs in again. A browser-session token lives as long as its session could without use
 * (SESSION_IDLE_TTL_S, never past the hard end), and the pages replace it as it is used (browser-session.ts).
 */
const signToken = (deps: Deps, session: { id: string; userId: string; absoluteExpiresAt: number }, tokenId: string, type: TokenType = "access") => {
  const now = deps.clock.now();
  const untilEnd = Math.floor((session.absoluteExpiresAt - now) / 1000);
  const ttlS = Math.max(1, type === "access" ? untilEnd : Math.min(untilEnd, deps.config.SESSION_IDLE_TTL_S));
  return signAccessToken(deps.config.JWT_SECRET, { userId: session.userId, sessionId: session.id, tokenId }, now, ttlS, type);
};

/** A new browser-session token for a live session (browser-session.ts renews the cookie with it). */
export const signBrowserToken = (deps: Deps, session: Session) => signToken(deps, session, newId(), "browser");

function isLive(s: Session, now: number) {
  return s.revokedAt === null && s.expiresAt > now && s.absoluteExpiresAt > now;
}

// The session and its user are read on every authenticated request: one statement (one round trip on libSQL),
// prepared once per process (deps.caches.sessionWithUser; drizzle would otherwise rebuild and recompile the query
// each time). On bun:sqlite the pair is kept in an exact read cache (deps.caches.sessions, db/read-cache.ts) while
// the database is unchanged, so a revocation, a profile change or a deletion (all writes, from this process or
// another) is seen by the very next request.
export const prepareSessionWithUser = (database: Database): PreparedById<SessionWithUser> =>
  database.db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, sql.placeholder("id")))
    .limit(1)
    .prepare() as never;
/** Entries of deps.caches.sessions (one per signed-in client while nothing is written). */
export const SESSION_CACHE_ENTRIES = 4096;

/** The session with its user, or null. Frozen: the same objects may answer many requests. */
async function readSessionWithUser(deps: Deps, id: string): Promise<Readonly<SessionWithUser> | null> {
  const [row] = await deps.caches.sessionWithUser.all({ id });
  return row ? Object.freeze({ session: Object.freeze(row.session), user: Object.freeze(row.user) }) : null;
}

/**
 * The per-request check behind every access token: the session exists, belongs to the user, is not revoked and
 * has not expired; returns it with its user. Slides the idle expiry, writing at most once a minute per session.
 */
export async function validateSessionAndUser(deps: Deps, sessionId: string, userId: string): Promise<SessionWithUser | null> {
  const now = deps.clock.now();
  const row = await deps.caches.sessions.get(sessionId, () => readSessionWithUser(deps, sessionId));
  // A suspended account's sessions were revoked when it was suspended; the check also covers a session made by a
  // sign-in that raced the suspension.
  if (!row || row.session.userId !== userId || !isLive(row.session, now) || row.user.suspendedAt !== null) return null;
  const s = row.session;
  if (now - s.lastUsedAt > 60_000) {
    // Concurrent requests may all hold the cached row from before the slide: only the first one writes (the others
    // match no row, so nothing changes and the read caches are not emptied again).
    const expiresAt = slidExpiry(deps, s, now);
    await deps.database.db
      .update(sessions)
      .set({ lastUsedAt: now, expiresAt })
      .where(and(eq(sessions.id, s.id), lt(sessions.lastUsedAt, now - 60_000)));
    return { session: { ...s, lastUsedAt: now, expiresAt }, user: row.user };
  }
  return row;
}

export async function validateSession(deps: Deps, sessionId: string, userId: string): Promise<Session | null> {
  return (await validateSessionAndUser(deps, sessionId, userId))?.session ?? null;
}

/** The sliding expiry after a use now: SESSION_IDLE_TTL_S ahead, never past the hard cap. */
const slidExpiry = (deps: Deps, s: Session, now: number) => Math.min(now + deps.config.SESSION_IDLE_TTL_S * 1000, s.absoluteExpiresAt);

/** Reuse of a rotated-away token: someone holds a copy. The session dies for both holders. */
async function revokeForReuse(deps: Deps, tx: Db, s: Session, reason: string, now: number) {
  await tx
    .update(sessions)
    .set({ revokedAt: now, revokeReason: reason })
    .where(and(eq(sessions.id, s.id), isNull(sessions.revokedAt)));
  noticeRevocation(deps, s.userId);
}

export type RefreshResult = { ok: true; tokens: Tokens; userId: string } | { ok: false; reason: "invalid" | "reused" | "expired" };

/** Rotates a refresh token. A token that was already rotated away is reuse: the whole session is revoked. */
export async function rotateRefreshToken(deps: Deps, refreshToken: string): Promise<RefreshResult> {
  const hash = sha256(refreshToken);
  const now = deps.clock.now();
  const next = randomToken();
  const tokenId = newTokenId();
  const result = await deps.database.tx(async (tx): Promise<{ ok: true; session: Session } | { ok: false; reason: "invalid" | "reused" | "expired" }> => {
    const [s] = await tx
      .select()
      .from(sessions)
      .where(or(eq(sessions.refreshTokenHash, hash), eq(sessions.previousRefreshHash, hash)))
      .limit(1);
    if (!s) return { ok: false, reason: "invalid" };
    if (s.refreshTokenHash !== hash) {
      await revokeForReuse(deps, tx, s, "refresh_reuse", now);
      return { ok: false, reason: "reused" };
    }
    if (!isLive(s, now)) return { ok: false, reason: s.revokedAt ? "invalid" : "expired" };
    // The new access token becomes the one the plugin's form may trade; nothing was traded, so no previous one.
    await tx
      .update(sessions)
      .set({
        refreshTokenHash: sha256(next),
        previousRefreshHash: hash,
        accessTokenId: tokenId,
        previousAccessTokenId: null,
        lastUsedAt: now,
        expiresAt: slidExpiry(deps, s, now),
      })
      .where(eq(sessions.id, s.id));
    return { ok: true, session: s };
  });
  if (!result.ok) return result;
  const { token, expiresAt } = await signToken(deps, result.session, tokenId);
  return {
    ok: true,
    userId: result.session.userId,
    tokens: { token, refresh_token: next, expires_at: expiresAt.toISOString(), session_id: result.session.id },
  };
}

export type TradeResult = { ok: true; token: string; expiresAt: Date; userId: string } | { ok: false; reason: "invalid" | "reused" | "expired" };

/**
 * The plugin's refresh form: trades the session's newest access token for a new one, exactly as a refresh token
 * rotates. The token must be unexpired (ACCESS_TRADE_GRACE_MS of grace) and of a live session; an older token is
 * refused; the token traded last time, presented again, is reuse and revokes the session. Browser-session tokens
 * are not access tokens and are refused.
 */
export async function rotateAccessToken(deps: Deps, accessToken: string): Promise<TradeResult> {
  const now = deps.clock.now();
  const v = await verifyAccessToken(deps.config.JWT_SECRET, accessToken, now, { graceMs: ACCESS_TRADE_GRACE_MS });
  if (!v.ok) return v;
  const { userId, sessionId } = v.claims;
  const presented = v.claims.tokenId ?? LEGACY_TOKEN_ID;
  const tokenId = newTokenId();
  const result = await deps.database.tx(async (tx): Promise<{ ok: true; session: Session } | { ok: false; reason: "invalid" | "reused" | "expired" }> => {
    const [s] = await tx.select().from(sessions).where(eq(sessions.id, sessionId)).limit(1);
    if (!s || s.userId !== userId || s.revokedAt !== null) return { ok: false, reason: "invalid" };
    if (s.previousAccessTokenId === presented) {
      await revokeForReuse(deps, tx, s, "access_token_reuse", now);
      return { ok: false, reason: "reused" };
    }
    if (presented !== (s.accessTokenId ?? LEGACY_TOKEN_ID)) return { ok: false, reason: "invalid" };
    if (!isLive(s, now)) return { ok: false, reason: "expired" };
    await tx
      .update(sessions)
      .set({ accessTokenId: tokenId, previousAccessTokenId: presented, lastUsedAt: now, expiresAt: slidExpiry(deps, s, now) })
      .where(eq(sessions.id, s.id));
    return { ok: true, session: s };
  });
  if (!result.ok) return result;
  const { token, expiresAt } = await signToken(deps, result.session, tokenId);
  return { ok: true, token, expiresAt, userId };
}

export async function revokeSession(deps: Deps, userId: string, sessionId: string, reason: string, db: Db = deps.database.db) {
  const rows = await db
    .update(sessions)
    .set({ revokedAt: deps.clock.now(), revokeReason: reason })
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
  if (rows.length) noticeRevocation(deps, userId);
  return rows.length > 0;
}

/** Revokes every live session of a user (refresh tokens die with them), optionally sparing one. */
export async function revokeUserSessions(deps: Deps, userId: string, reason: string, opts: { except?: string; db?: Db } = {}) {
  const db = opts.db ?? deps.database.db;
  await db
    .update(sessions)
    .set({ revokedAt: deps.clock.now(), revokeReason: reason })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), opts.except ? ne(sessions.id, opts.except) : sql`1 = 1`));
  noticeRevocation(deps, userId);
}

export async function listSessions(deps: Deps, userId: string) {
  const now = deps.clock.now();
  const rows = await deps.database.db
    .select()
    .from(sessions)
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)));
  return rows.filter((s) => isLive(s, now));
}

/** Marks a fresh credential proof in this session (L6: linking needs a recent authentication). */
export async function markAuthenticated(deps: Deps, sessionId: string) {
  await deps.database.db.update(sessions).set({ authenticatedAt: deps.clock.now() }).where(eq(sessions.id, sessionId));
}

/**
 * L7 (docs/security.md): a credential or identity change (password changed, reset or set, email confirmed, provider
 * linked or unlinked, account claimed or disowned) ends every other session and refresh token, every outstanding
 * one-time token, and every sign-in that was approved for the account but not collected yet (the plugin's polled
 * sign-in, device codes): whoever approved it may be who the change is meant to lock out.
 */
export async function afterCredentialChange(deps: Deps, db: Db, userId: string, reason: string, keepSessionId?: string) {
  await revokeUserSessions(deps, userId, reason, { db, except: keepSessionId });
  await invalidateUserTokens(deps, db, userId);
  await db
    .update(signInRequests)
    .set({ status: "denied", message: "The account's sign-in methods changed; please sign in again" })
    .where(and(eq(signInRequests.userId, userId), eq(signInRequests.status, "approved")));
}

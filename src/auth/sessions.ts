// Sessions and refresh tokens (docs/security.md "Sessions"): opaque refresh tokens stored as SHA-256,
// rotated on every use; presenting an already rotated token revokes the whole session (reuse detection). Sessions
// slide for SESSION_IDLE_TTL_S of inactivity and end at SESSION_MAX_TTL_S after sign-in whatever happens.
import { and, eq, isNull, lt, ne, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { sessions, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { newId, randomToken, sha256 } from "../lib/crypto.ts";
import { signAccessToken } from "./tokens.ts";
import { publishSessionsRevoked } from "../realtime/events.ts";
import { readCache } from "../db/read-cache.ts";

/**
 * Tells the realtime hub that sessions of a user ended, so their WebSockets close now rather than at the next
 * periodic check. The revocation may still be inside a transaction: the notice goes out on the next tick (after an
 * in-process SQLite commit) and once more a second later (a remote libSQL commit).
 */
function noticeRevocation(deps: Deps, userId: string) {
  for (const delay of [0, 1000]) setTimeout(() => void publishSessionsRevoked(deps, userId).catch(() => undefined), delay).unref?.();
}

export type Session = typeof sessions.$inferSelect;
export type ClientInfo = { userAgent?: string; ip?: string };
export type Tokens = { token: string; refresh_token: string; expires_at: string; session_id: string };

/** Creates a session for a user who just proved a credential, and its first access and refresh tokens. */
export async function createSession(deps: Deps, userId: string, client: ClientInfo, db: Db = deps.database.db): Promise<Tokens> {
  const now = deps.clock.now();
  const { config } = deps;
  const refresh = randomToken();
  const id = newId();
  await db.insert(sessions).values({
    id,
    userId,
    createdAt: now,
    lastUsedAt: now,
    authenticatedAt: now,
    expiresAt: Math.min(now + config.SESSION_IDLE_TTL_S * 1000, now + config.SESSION_MAX_TTL_S * 1000),
    absoluteExpiresAt: now + config.SESSION_MAX_TTL_S * 1000,
    userAgent: (client.userAgent ?? "").slice(0, 300),
    ip: client.ip ?? "",
    refreshTokenHash: sha256(refresh),
  });
  return issueTokens(deps, { id, userId }, refresh);
}

async function issueTokens(deps: Deps, session: { id: string; userId: string }, refresh: string): Promise<Tokens> {
  const { token, expiresAt } = await signAccessToken(
    deps.config.JWT_SECRET,
    { userId: session.userId, sessionId: session.id },
    deps.clock.now(),
    deps.config.ACCESS_TOKEN_TTL_S,
  );
  return { token, refresh_token: refresh, expires_at: expiresAt.toISOString(), session_id: session.id };
}

function isLive(s: Session, now: number) {
  return s.revokedAt === null && s.expiresAt > now && s.absoluteExpiresAt > now;
}

// The session and its user are read on every authenticated request: one statement (one round trip on libSQL),
// prepared once per database (drizzle would otherwise rebuild and recompile the query each time). On bun:sqlite the
// pair is kept in an exact read cache (db/read-cache.ts) while the database is unchanged, so a revocation, a
// profile change or a deletion (all writes, from this process or another) is seen by the very next request.
type SessionWithUser = { session: Session; user: typeof users.$inferSelect };
const sessionWithUser = new WeakMap<object, { all(p: { id: string }): SessionWithUser[] | Promise<SessionWithUser[]> }>();
const sessionCache = readCache<Readonly<SessionWithUser> | null>(4096);

/** The session with its user, or null. Frozen: the same objects may answer many requests. */
async function readSessionWithUser(deps: Deps, id: string): Promise<Readonly<SessionWithUser> | null> {
  let q = sessionWithUser.get(deps.database);
  if (!q) {
    q = deps.database.db
      .select({ session: sessions, user: users })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(sessions.id, sql.placeholder("id")))
      .limit(1)
      .prepare() as never;
    sessionWithUser.set(deps.database, q!);
  }
  const [row] = await q!.all({ id });
  return row ? Object.freeze({ session: Object.freeze(row.session), user: Object.freeze(row.user) }) : null;
}

/**
 * The per-request check behind every access token: the session exists, belongs to the user, is not revoked and
 * has not expired; returns it with its user. Slides the idle expiry, writing at most once a minute per session.
 */
export async function validateSessionAndUser(deps: Deps, sessionId: string, userId: string): Promise<SessionWithUser | null> {
  const now = deps.clock.now();
  const row = await sessionCache.get(deps, sessionId, () => readSessionWithUser(deps, sessionId));
  if (!row || row.session.userId !== userId || !isLive(row.session, now)) return null;
  const s = row.session;
  if (now - s.lastUsedAt > 60_000) {
    // Concurrent requests may all hold the cached row from before the slide: only the first one writes (the others
    // match no row, so nothing changes and the read caches are not emptied again).
    const expiresAt = Math.min(now + deps.config.SESSION_IDLE_TTL_S * 1000, s.absoluteExpiresAt);
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

export type RefreshResult = { ok: true; tokens: Tokens; userId: string } | { ok: false; reason: "invalid" | "reused" | "expired" };

/** Rotates a refresh token. A token that was already rotated away is reuse: the whole session is revoked. */
export async function rotateRefreshToken(deps: Deps, refreshToken: string): Promise<RefreshResult> {
  const hash = sha256(refreshToken);
  const now = deps.clock.now();
  const next = randomToken();
  const result = await deps.database.tx(async (tx): Promise<RefreshResult> => {
    const [s] = await tx
      .select()
      .from(sessions)
      .where(or(eq(sessions.refreshTokenHash, hash), eq(sessions.previousRefreshHash, hash)))
      .limit(1);
    if (!s) return { ok: false, reason: "invalid" };
    if (s.refreshTokenHash !== hash) {
      // Reuse of a rotated token: someone holds a copy. Kill the session for both holders.
      await tx.update(sessions).set({ revokedAt: now, revokeReason: "refresh_reuse" }).where(and(eq(sessions.id, s.id), isNull(sessions.revokedAt)));
      noticeRevocation(deps, s.userId);
      return { ok: false, reason: "reused" };
    }
    if (!isLive(s, now)) return { ok: false, reason: s.revokedAt ? "invalid" : "expired" };
    const expiresAt = Math.min(now + deps.config.SESSION_IDLE_TTL_S * 1000, s.absoluteExpiresAt);
    await tx
      .update(sessions)
      .set({ refreshTokenHash: sha256(next), previousRefreshHash: hash, lastUsedAt: now, expiresAt })
      .where(eq(sessions.id, s.id));
    return { ok: true, tokens: { token: "", refresh_token: next, expires_at: "", session_id: s.id }, userId: s.userId };
  });
  if (!result.ok) return result;
  return { ok: true, userId: result.userId, tokens: await issueTokens(deps, { id: result.tokens.session_id, userId: result.userId }, next) };
}

/** The plugin's refresh form: a new access token for a session that is still live (no rotation involved). */
export async function extendSession(deps: Deps, sessionId: string, userId: string) {
  const s = await validateSession(deps, sessionId, userId);
  if (!s) return null;
  return signAccessToken(deps.config.JWT_SECRET, { userId, sessionId }, deps.clock.now(), deps.config.ACCESS_TOKEN_TTL_S);
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
  const rows = await deps.database.db.select().from(sessions).where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)));
  return rows.filter((s) => isLive(s, now));
}

/** Marks a fresh credential proof in this session (L6: linking needs a recent authentication). */
export async function markAuthenticated(deps: Deps, sessionId: string) {
  await deps.database.db.update(sessions).set({ authenticatedAt: deps.clock.now() }).where(eq(sessions.id, sessionId));
}

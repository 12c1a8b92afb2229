// The web app's WebSocket ticket (docs/security.md "Web app"). The browser's pages are signed in with the HttpOnly
// sc_session cookie, which the hub never reads; to open its socket the page's script asks POST /web/ws-token
// (CSRF-checked, src/web/live-routes.ts) for a ticket and sends it as ?token=. A ticket is a token of its own type
// ("ws", tokens.ts: never taken as a Bearer token or a cookie), bound to the browser session that asked for it (its
// sid: the socket lives and dies with that session), valid WS_TOKEN_TTL_S, and single use: the hub burns its jti by
// inserting it into used_ws_tokens, whose primary key refuses a second use on every instance of a shared database.
// The hub takes a ticket only from a page of this server (Origin = PUBLIC_URL's origin).
import { lte } from "drizzle-orm";
import { usedWsTokens } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { randomToken } from "../lib/crypto.ts";
import { liveSessionOf, verifiedClaims, type Auth } from "./guard.ts";
import { signAccessToken } from "./tokens.ts";

export const WS_TOKEN_TTL_S = 60;

/** A new ticket for the browser session `auth` (the session read from the cookie). */
export async function issueWsToken(deps: Deps, auth: Auth): Promise<{ token: string; expires_in: number }> {
  const claims = { userId: auth.user.id, sessionId: auth.session.id, tokenId: randomToken(16) };
  const { token } = await signAccessToken(deps.config.JWT_SECRET, claims, deps.clock.now(), WS_TOKEN_TTL_S, "ws");
  return { token, expires_in: WS_TOKEN_TTL_S };
}

/** The origin the web app's pages are served from, the only one whose sockets may use a ticket. */
export const ownOrigin = (deps: Deps) => new URL(deps.config.PUBLIC_URL).origin;

/**
 * Takes a ticket at the WebSocket upgrade: from this server's own pages only (403 origin_refused otherwise, the ticket
 * unspent), signature, type and expiry checked (the contract's 401), then spent (a second use is 401 invalid_token),
 * then its session must still be live. Returns who the socket belongs to.
 */
export async function redeemWsToken(deps: Deps, token: string, origin: string | null): Promise<Auth> {
  if (origin !== ownOrigin(deps)) throw errors.forbidden("origin_refused", "A web app ticket is only taken from this server's own pages");
  const claims = await verifiedClaims(deps, token, "ws");
  if (!claims.tokenId) throw errors.unauthorized("invalid_token", "The access token is not valid");
  const now = deps.clock.now();
  const db = deps.database.db;
  // Expired tickets cannot be used anyway: their rows are dropped as new ones come in. A row is kept one lifetime
  // longer than its ticket, so an instance whose clock runs behind cannot take a ticket whose row another dropped.
  await db.delete(usedWsTokens).where(lte(usedWsTokens.expiresAt, now));
  const spent = await db
    .insert(usedWsTokens)
    .values({ jti: claims.tokenId, expiresAt: now + 2 * WS_TOKEN_TTL_S * 1000 })
    .onConflictDoNothing()
    .returning({ jti: usedWsTokens.jti });
  if (spent.length === 0) throw errors.unauthorized("invalid_token", "This token was already used; ask for a new one");
  return await liveSessionOf(deps, claims);
}

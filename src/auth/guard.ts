// The one guard every route uses, so the route table is the security table: `{ auth: true }` on a route resolves
// `auth` = { user, session } from `Authorization: Bearer <access token>`, or answers 401 invalid_token /
// token_expired in the contract shape. `{ viewer: true }` is the optional form for public routes that personalise
// when a token is present; while the community's "sign in to view" is on (README "Sign in to view") those routes
// answer 401 sign_in_required without one. `{ rateLimit: "<name>" }` spends one request of a named limit (src/http/route-limits.ts)
// before the handler runs: after the body is parsed and validated and after `auth` resolved (a limit counted by
// user needs `auth: true`), so a malformed request or a stranger is refused without spending the budget, and the
// handler (an upload's body read included) never runs for a limited request.
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { errors } from "../http/errors.ts";
import { setRequestUser } from "../http/observe.ts";
import type { RouteLimitName } from "../http/route-limits.ts";
import type { UserRow } from "../users/service.ts";
import { validateSessionAndUser, type Session } from "./sessions.ts";
import { verifyAccessToken, type AccessClaims, type TokenType } from "./tokens.ts";
import { instanceSettings } from "../system/settings.ts";

export type Auth = { user: UserRow; session: Session };

export function bearerToken(request: Request): string | null {
  const h = request.headers.get("authorization");
  const m = h && /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1]! : null;
}

/**
 * Checks a token and that its session is live (revocation takes effect at once). The API takes access tokens
 * only; the pages' sc_session cookie takes browser-session tokens only (browser-session.ts).
 */
export async function authenticateToken(deps: Deps, token: string, type: TokenType = "access"): Promise<Auth> {
  return await liveSessionOf(deps, await verifiedClaims(deps, token, type));
}

/** A token's claims once its signature, type and expiry passed; the contract's 401 otherwise. */
export async function verifiedClaims(deps: Deps, token: string, type: TokenType): Promise<AccessClaims> {
  const v = await verifyAccessToken(deps.config.JWT_SECRET, token, deps.clock.now(), { type });
  if (v.ok) return v.claims;
  throw v.reason === "expired"
    ? errors.unauthorized("token_expired", "The access token has expired; refresh it or sign in again")
    : errors.unauthorized("invalid_token", "The access token is not valid");
}

/** The session a token names (live, this user's) with its user, in one statement: revocation takes effect at once. */
export async function liveSessionOf(deps: Deps, claims: AccessClaims): Promise<Auth> {
  const found = await validateSessionAndUser(deps, claims.sessionId, claims.userId);
  if (!found) throw errors.unauthorized("invalid_token", "This session has ended; sign in again");
  return found;
}

export async function authenticate(deps: Deps, request: Request): Promise<Auth> {
  const token = bearerToken(request);
  if (!token) throw errors.unauthorized("unauthorized", "Sign in first: this route needs an Authorization: Bearer token");
  const auth = await authenticateToken(deps, token);
  setRequestUser(request, auth.user.id);
  return auth;
}

export const authGuard = (deps: Deps) => {
  const trusted = parseTrustedProxies(deps.config.TRUSTED_PROXIES);
  return new Elysia({ name: "auth-guard" }).macro({
    auth: {
      detail: { security: [{ bearer: [] }] },
      async resolve({ request }) {
        return { auth: await authenticate(deps, request) };
      },
    },
    viewer: {
      async resolve({ request }) {
        // A bad token on a public route is still an error: the client believes it is signed in.
        let viewer: Auth | null = null;
        if (bearerToken(request)) viewer = await authenticate(deps, request);
        else if ((await instanceSettings(deps)).sign_in_to_view) throw errors.signInRequired();
        return { viewer };
      },
    },
    rateLimit: (name: RouteLimitName) => ({
      // Names only what it reads (Elysia infers from the parameter what a route needs, e.g. whether to parse a body).
      async beforeHandle({ request, auth }: { request: Request; auth?: Auth }) {
        await deps.routeLimits.hit(name, { ip: clientIp(request, trusted), userId: auth?.user.id });
      },
    }),
  });
};

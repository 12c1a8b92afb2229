// The one auth guard every protected route uses: `{ auth: true }` on a route resolves `auth` = { user, session }
// from `Authorization: Bearer <access token>`, or answers 401 invalid_token / token_expired in the contract shape.
// `{ viewer: true }` is the optional form for public routes that personalise when a token is present.
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { setRequestUser } from "../http/observe.ts";
import type { UserRow } from "../users/service.ts";
import { validateSessionAndUser, type Session } from "./sessions.ts";
import { verifyAccessToken, type TokenType } from "./tokens.ts";

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
  const v = await verifyAccessToken(deps.config.JWT_SECRET, token, deps.clock.now(), { type });
  if (!v.ok) {
    throw v.reason === "expired"
      ? errors.unauthorized("token_expired", "The access token has expired; refresh it or sign in again")
      : errors.unauthorized("invalid_token", "The access token is not valid");
  }
  // One statement: the session (live, this user's) with its user. Revocation takes effect at once.
  const found = await validateSessionAndUser(deps, v.claims.sessionId, v.claims.userId);
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

export const authGuard = (deps: Deps) =>
  new Elysia({ name: "auth-guard" }).macro({
    auth: {
      detail: { security: [{ bearer: [] }] },
      async resolve({ request }) {
        return { auth: await authenticate(deps, request) };
      },
    },
    viewer: {
      async resolve({ request }) {
        // A bad token on a public route is still an error: the client believes it is signed in.
        return { viewer: bearerToken(request) ? await authenticate(deps, request) : null };
      },
    },
  });

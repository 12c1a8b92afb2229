// The start of linking Google or Discord to the signed-in account (docs/security.md "Account linking (L1–L9)"): the checks
// L8 (verified email) and L6 (a recent sign-in), then a sealed single-use ticket naming the provider, the user and
// the session, valid LINK_TICKET_TTL_MS, inside the URL the browser opens. The API's POST /auth/{provider}/link-start
// and the web app's settings page both start here.
import type { Deps } from "../../deps.ts";
import { errors } from "../../http/errors.ts";
import { randomToken } from "../../lib/crypto.ts";
import type { Auth } from "../guard.ts";
import { linkRefusal } from "../identity.ts";
import { getProvider, PROVIDER_LABEL, type ProviderName } from "./providers.ts";
import { seal } from "./sealed.ts";

/** A link ticket must be opened this soon after it is made. */
export const LINK_TICKET_TTL_MS = 2 * 60_000;

export type LinkStart = { url: string; expires_at: string };

/** The single-use URL that links `name` to `auth`'s account when opened in this server's browser session. */
export async function linkStartUrl(deps: Deps, auth: Auth, name: ProviderName): Promise<LinkStart> {
  if (!getProvider(deps.config, name)) throw errors.notFound("provider_disabled", `${PROVIDER_LABEL[name]} sign-in is not configured on this server`);
  // L8 and L6 are checked now (a clear answer) and again when the flow ends.
  const refusal = linkRefusal(deps, auth);
  if (refusal) throw refusal;
  const expiresAt = deps.clock.now() + LINK_TICKET_TTL_MS;
  const ticket = await seal(deps.config.JWT_SECRET, "oauth-link-ticket", { p: name, u: auth.user.id, ss: auth.session.id, j: randomToken(16) }, expiresAt);
  return {
    url: `${deps.config.PUBLIC_URL}/api/v1/auth/${name}?link=1&ticket=${encodeURIComponent(ticket)}`,
    expires_at: new Date(expiresAt).toISOString(),
  };
}

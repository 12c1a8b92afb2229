// The web player's play count (docs/architecture.md "Web app"): POST /l/:id/play, sent by the client script
// (src/web/client/player.ts) once per start of a loop, with the CSRF token in x-csrf-token. The same service and
// rate limit as the API's POST /posts/{id}/play: once per listener per post per 30 minutes, signed-in listeners
// only (an anonymous play is not counted, as in the API). Answers { play_count, counted } to the script; a plain
// form post gets a 303 back to the loop's page.
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { recordPlay } from "../social/plays.ts";
import { browserAction } from "./context.ts";

const HIDDEN = { detail: { hide: true } } as const;

export const webPlayRoutes = (deps: Deps) => {
  const trusted = parseTrustedProxies(deps.config.TRUSTED_PROXIES);
  return new Elysia({ name: "web-plays" }).post(
    "/l/:id/play",
    ({ request, params, body }) => {
      const form = body && typeof body === "object" ? (body as Record<string, unknown>) : {};
      return browserAction(deps, request, form, `/l/${encodeURIComponent(params.id)}`, async (auth) => {
        await deps.routeLimits.hit("plays", { ip: clientIp(request, trusted), userId: auth.user.id });
        return recordPlay(deps, auth.user.id, params.id.slice(0, 64));
      });
    },
    HIDDEN,
  );
};

// The web player's play count (docs/architecture.md "Web app"): POST /l/:id/play, sent by the client script
// (src/web/client/player.ts) once per start of a loop, with the CSRF token in x-csrf-token. The same service and
// rate limit as the API's POST /posts/{id}/play: once per listener per post per 30 minutes, signed-in listeners
// only (an anonymous play is not counted, as in the API). Answers { play_count, counted } to the script; a plain
// form post gets a 303 back to the loop's page.
import { Elysia, t } from "elysia";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { recordPlay } from "../social/plays.ts";
import { browserAction, browserActionDoc, asForm } from "./context.ts";

export const webPlayRoutes = (deps: Deps) => {
  const trusted = parseTrustedProxies(deps.config.TRUSTED_PROXIES);
  return new Elysia({ name: "web-plays" }).post(
    "/l/:id/play",
    ({ request, params, body }) => {
      const form = asForm(body);
      return browserAction(deps, request, form, `/l/${encodeURIComponent(params.id)}`, async (auth) => {
        await deps.routeLimits.hit("plays", { ip: clientIp(request, trusted), userId: auth.user.id });
        return recordPlay(deps, auth.user.id, params.id.slice(0, 64));
      });
    },
    browserActionDoc(
      "Count a play of a loop by the signed-in listener (the web player, once per start)",
      t.Object({ play_count: t.Integer(), counted: t.Boolean() }, { examples: [{ play_count: 7, counted: true }] }),
    ),
  );
};

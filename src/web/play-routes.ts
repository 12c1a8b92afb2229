// The web player's play count (docs/architecture.md "Web app"): POST /l/:id/play, sent by the client script
// (src/web/client/player.ts) once per start of a loop, with the CSRF token in x-csrf-token. The same service and
// rate limit as the API's POST /posts/{id}/play: once per listener per post per 30 minutes, signed-in listeners
// only (an anonymous play is not counted, as in the API). Answers { play_count, counted } to the script; a plain
// form post gets a 303 back to the loop's page. POST /l/:id/listened {seconds} is the API's listen duration
// (POST /social/listen-duration): how long the loop was heard, kept on the listener's latest play of it.
import { Elysia, t } from "elysia";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { errors } from "../http/errors.ts";
import { MAX_LISTEN_SECONDS, recordListenDuration, recordPlay } from "../social/plays.ts";
import { asForm, browserAction, browserActionDoc, formText } from "./context.ts";

export const webPlayRoutes = (deps: Deps) => {
  const trusted = parseTrustedProxies(deps.config.TRUSTED_PROXIES);
  return new Elysia({ name: "web-plays" })
    .post(
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
    )
    .post(
      "/l/:id/listened",
      ({ request, params, body }) => {
        const form = asForm(body);
        return browserAction(deps, request, form, `/l/${encodeURIComponent(params.id)}`, async (auth) => {
          const seconds = Number(formText(form.seconds, 32));
          if (!(formText(form.seconds, 32) !== "" && Number.isFinite(seconds) && seconds >= 0 && seconds <= MAX_LISTEN_SECONDS)) {
            throw errors.validation({ seconds: `a number of seconds from 0 to ${MAX_LISTEN_SECONDS}` });
          }
          await deps.routeLimits.hit("plays", { ip: clientIp(request, trusted), userId: auth.user.id });
          return recordListenDuration(deps, auth.user.id, params.id.slice(0, 64), seconds);
        });
      },
      browserActionDoc(
        "Report how long the signed-in listener heard a loop (the web player, when another loop starts or the page is left)",
        t.Object({ recorded: t.Boolean() }, { examples: [{ recorded: true }] }),
      ),
    );
};

// The loop page's toggle buttons as form actions (web/ui/save.tsx Toggle), through browserAction (web/context.ts):
//   POST /l/:id/<name>   field `<name>` = 1 turns it on, 0 off, absent toggles → the state to the script, a 303 back
//                        to the loop for a plain form; a refusal shows on the loop page
// Each calls the service of its API routes under the same rate limit: 🔖 save (README "Saved loops"), 📌 pin (README
// "Pinned loops") and 🔁 repost (README "Reposts").
import { Elysia, type TSchema } from "elysia";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import type { RouteLimitName } from "../http/route-limits.ts";
import { asForm, browserAction, browserActionDoc, formText } from "./context.ts";

/** A service call; `form` is the submitted form, for what else it carries (a repost's quote). */
type Service<T> = (deps: Deps, userId: string, postId: string, form: Record<string, unknown>) => Promise<T>;
export type LoopToggle<T> = { name: string; limit: RouteLimitName; on: Service<T>; off: Service<T>; toggle: Service<T>; summary: string; state: TSchema };

export const loopToggle = <T>(deps: Deps, o: LoopToggle<T>) => {
  const trusted = parseTrustedProxies(deps.config.TRUSTED_PROXIES);
  return new Elysia({ name: `web-${o.name}-actions` }).post(
    `/l/:id/${o.name}`,
    ({ request, params, body }) => {
      const form = asForm(body);
      const postId = formText(params.id, 64);
      const back = `/l/${encodeURIComponent(postId)}`;
      return browserAction(
        deps,
        request,
        form,
        back,
        async (auth) => {
          await deps.routeLimits.hit(o.limit, { ip: clientIp(request, trusted), userId: auth.user.id });
          const want = form[o.name];
          return (want === "1" ? o.on : want === "0" ? o.off : o.toggle)(deps, auth.user.id, postId, form);
        },
        { onError: (err) => `${back}?error=${encodeURIComponent(err.fields ? Object.values(err.fields).join("; ") : err.message)}` },
      );
    },
    browserActionDoc(o.summary, o.state),
  );
};

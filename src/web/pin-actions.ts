// The owner's 📌 button on their loop's page (README "Pinned loops"), through browserAction (web/context.ts):
//   POST /l/:id/pin   field `pin` = 1 pins, 0 unpins, absent toggles → { is_pinned, pin_order } to the script, a 303
//                     back to the loop for a plain form; a refusal (not yours, 3 pinned already) shows on the loop page
// The service of the API's routes (posts/pins.ts), under the same `pins` rate limit.
import { Elysia, t } from "elysia";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { pinPost, togglePin, unpinPost } from "../posts/pins.ts";
import { asForm, browserAction, browserActionDoc, formText } from "./context.ts";

export const pinActions = (deps: Deps) => {
  const trusted = parseTrustedProxies(deps.config.TRUSTED_PROXIES);
  return new Elysia({ name: "web-pin-actions" }).post(
    "/l/:id/pin",
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
          await deps.routeLimits.hit("pins", { ip: clientIp(request, trusted), userId: auth.user.id });
          if (form.pin === "1") return pinPost(deps, auth.user.id, postId);
          if (form.pin === "0") return unpinPost(deps, auth.user.id, postId);
          return togglePin(deps, auth.user.id, postId);
        },
        { onError: (err) => `${back}?error=${encodeURIComponent(err.message)}` },
      );
    },
    browserActionDoc(
      "Pin or unpin your loop from the web app: field pin=1 or 0 (absent: toggle)",
      t.Object({ is_pinned: t.Boolean(), pin_order: t.Integer() }, { examples: [{ is_pinned: true, pin_order: 1 }] }),
    ),
  );
};

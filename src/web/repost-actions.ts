// The 🔁 Repost button on a loop's page (README "Reposts"): POST /l/:id/repost, field `repost` = 1 reposts (with
// the field `quote`, from "Repost with a quote"), 0 takes the repost back, absent toggles → { is_reposted,
// repost_count, quote } (web/loop-toggles.ts); a refusal (a loop you cannot see, a quote too long) shows on the loop
// page. The service of the API's routes (social/reposts.ts), under the `reposts` limit.
import { t } from "elysia";
import type { Deps } from "../deps.ts";
import { cleanQuote, QUOTE_MAX, repostPost, toggleRepost, unrepostPost } from "../social/reposts.ts";
import { formText } from "./context.ts";
import { loopToggle } from "./loop-toggles.ts";

export const repostActions = (deps: Deps) =>
  loopToggle(deps, {
    name: "repost",
    limit: "reposts",
    on: (deps, userId, postId, form) => repostPost(deps, userId, postId, cleanQuote(formText(form.quote, 4 * QUOTE_MAX))),
    off: unrepostPost,
    toggle: toggleRepost,
    summary: "Repost a loop (field quote: optional) or take the repost back from the web app: field repost=1 or 0 (absent: toggle)",
    state: t.Object(
      { is_reposted: t.Boolean(), repost_count: t.Integer(), quote: t.String() },
      { examples: [{ is_reposted: true, repost_count: 3, quote: "" }] },
    ),
  });

// The browser's blocks and mutes (README "Blocking and muting"), through browserAction (web/context.ts) like the
// follow button's action (web/social-actions.ts): CSRF-checked, signed in by the browser-session cookie, under the
// API's `blocks` rate limit, calling the services the API calls.
//   POST /@:username/block   field `block` = 1 blocks, 0 unblocks → { is_blocking }
//   POST /@:username/mute    field `mute` = 1 mutes, 0 unmutes → { is_muting }
// A plain form gets a 303 back to the field `next` (same-origin paths only), else the producer's page. The username is
// looked up like the profile page does, except that someone who blocks the viewer is found too: the viewer may
// block them back, and the answer says nothing the profile page does not.
import { Elysia, t } from "elysia";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { errors } from "../http/errors.ts";
import { safeRedirectPath } from "../http/redirect.ts";
import { blockUser, muteUser, unblockUser, unmuteUser } from "../social/blocks.ts";
import { findUserByIdOrUsername } from "../users/profile.ts";
import { asForm, browserAction, browserActionDoc, formText } from "./context.ts";

export const blockActions = (deps: Deps) => {
  const trusted = parseTrustedProxies(deps.config.TRUSTED_PROXIES);

  const action = (what: "block" | "mute") => (ctx: { request: Request; params: unknown; body: unknown }) => {
    const form = asForm(ctx.body);
    const username = formText((ctx.params as { username?: string }).username, 64);
    const back = safeRedirectPath(form.next) ?? `/@${encodeURIComponent(username)}`;
    return browserAction(deps, ctx.request, form, back, async (auth) => {
      await deps.routeLimits.hit("blocks", { ip: clientIp(ctx.request, trusted), userId: auth.user.id });
      const on = form[what];
      if (on !== "1" && on !== "0") throw errors.validation({ [what]: `1 to ${what}, 0 to un${what}` });
      const target = await findUserByIdOrUsername(deps, username);
      if (!target || target.username !== username.toLowerCase()) throw errors.notFound("user_not_found", "No such user");
      if (what === "block")
        return { is_blocking: (on === "1" ? await blockUser(deps, auth.user.id, target.id) : await unblockUser(deps, auth.user.id, target.id)).is_blocking };
      return { is_muting: (on === "1" ? await muteUser(deps, auth.user.id, target.id) : await unmuteUser(deps, auth.user.id, target.id)).is_muting };
    });
  };

  return new Elysia({ name: "web-block-actions" })
    .post(
      "/@:username/block",
      action("block"),
      browserActionDoc(
        "Block (block=1) or unblock (block=0) a producer from the web app",
        t.Object({ is_blocking: t.Boolean() }, { examples: [{ is_blocking: true }] }),
      ),
    )
    .post(
      "/@:username/mute",
      action("mute"),
      browserActionDoc(
        "Mute (mute=1) or unmute (mute=0) a producer from the web app",
        t.Object({ is_muting: t.Boolean() }, { examples: [{ is_muting: true }] }),
      ),
    );
};

// The browser's reactions and follows (docs/architecture.md "Web app"), through browserAction (web/context.ts):
// CSRF-checked, signed in by the browser-session cookie, JSON to the client script (web/client/forms.ts) or a 303
// back to the page for a plain form. They call the services the API routes call, under the API's rate limits.
//   POST /l/:id/react           field `emoji` (one of the six): sets it, or takes it back when it is already the
//                               viewer's (the button that shows aria-pressed is a toggle); `remove=1` takes it back.
//                               → { like_count, reaction_counts, user_reaction, is_liked }
//   POST /@:username/follow     field `follow` = 1 follows, 0 unfollows → { is_following, follower_count }
// Without JavaScript the answer is a 303 back to the field `next`, else the same-origin page the form was on
// (Referer), else the loop's or the profile's page.
import { Elysia, t } from "elysia";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { errors } from "../http/errors.ts";
import { safeRedirectPath } from "../http/redirect.ts";
import { followUser, unfollowUser } from "../social/follows.ts";
import { removeReaction, requireEmoji, toggleReaction } from "../social/reactions.ts";
import { findUserByIdOrUsername } from "../users/profile.ts";
import { browserAction, asForm, type Form, formText, browserActionDoc } from "./context.ts";

const str = (v: unknown, max = 64) => formText(v, max);

export const socialActions = (deps: Deps) => {
  const trusted = parseTrustedProxies(deps.config.TRUSTED_PROXIES);
  const origin = new URL(deps.config.PUBLIC_URL).origin;

  /** Where a plain form post goes back to: `next`, else the page it came from on this server, else `fallback`. */
  const backOf = (request: Request, form: Form, fallback: string) => {
    const next = safeRedirectPath(form.next);
    if (next) return next;
    try {
      const referer = new URL(request.headers.get("referer") ?? "");
      if (referer.origin === origin) return safeRedirectPath(`${referer.pathname}${referer.search}`) ?? fallback;
    } catch {
      // no Referer, or not a URL
    }
    return fallback;
  };

  return new Elysia({ name: "web-social-actions" })
    .post(
      "/l/:id/react",
      ({ request, params, body }) => {
        const form = asForm(body);
        const postId = str(params.id);
        return browserAction(deps, request, form, backOf(request, form, `/l/${encodeURIComponent(postId)}`), async (auth) => {
          await deps.routeLimits.hit("reactions", { ip: clientIp(request, trusted), userId: auth.user.id });
          if (form.remove === "1") return removeReaction(deps, auth.user.id, postId);
          return toggleReaction(deps, auth.user.id, postId, requireEmoji(str(form.emoji, 32)));
        });
      },
      browserActionDoc(
        "React to a loop from the web app: field emoji (your own emoji again takes it back), or remove=1",
        t.Object(
          { like_count: t.Integer(), is_liked: t.Boolean(), reaction_counts: t.Record(t.String(), t.Integer()), user_reaction: t.String() },
          { examples: [{ like_count: 3, is_liked: true, reaction_counts: { "🔥": 2, "❤️": 1 }, user_reaction: "🔥" }] },
        ),
      ),
    )
    .post(
      "/@:username/follow",
      ({ request, params, body }) => {
        const form = asForm(body);
        const username = str((params as { username?: string }).username);
        return browserAction(deps, request, form, backOf(request, form, `/@${encodeURIComponent(username)}`), async (auth) => {
          await deps.routeLimits.hit("follows", { ip: clientIp(request, trusted), userId: auth.user.id });
          if (form.follow !== "1" && form.follow !== "0") throw errors.validation({ follow: "1 to follow, 0 to unfollow" });
          const target = await findUserByIdOrUsername(deps, username);
          if (!target) throw errors.notFound("user_not_found", "No such user");
          const outcome = form.follow === "1" ? await followUser(deps, auth.user.id, target.id) : await unfollowUser(deps, auth.user.id, target.id);
          return { is_following: outcome.is_following, follower_count: outcome.follower_count };
        });
      },
      browserActionDoc(
        "Follow (follow=1) or unfollow (follow=0) a producer from the web app",
        t.Object({ is_following: t.Boolean(), follower_count: t.Integer() }, { examples: [{ is_following: true, follower_count: 12 }] }),
      ),
    );
};

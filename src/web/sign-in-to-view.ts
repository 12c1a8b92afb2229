// "Sign in to view" at the door (README "Sign in to view"): while the setting is on, nothing of the community is shown
// to a visitor without a session. One hook before every handler:
//   - API and media requests: the API's public routes refuse strangers themselves, reading the settings (the `viewer`
//     guard, src/auth/guard.ts). The switch in deps.caches.instance, which decides whether deps.mediaUrl signs
//     (src/media/signed-urls.ts) and whether the media route asks for signatures (src/media/routes.ts), is refreshed
//     from the settings before the handler after any write through this instance, and otherwise at most once a
//     second: a feed request stays at its few statements (the feed tests count them) and a media request at
//     none. After a switch by another process (the command line, another instance) media go by the old rule for up to
//     a second.
//   - The pages that show loops, producers or feeds (/, /l/..., /@..., /search, /discover, their RSS, the embed player, oEmbed): a visitor
//     without a browser session is sent to the sign-in page with `next` (a 303 nobody caches), before any page cache
//     is looked at; machines (RSS, oEmbed) get 401 sign_in_required; the embed player a frameable page that names no
//     loop. The sign-in, registration, password and device pages, /api/v1/instance, assets, health, /docs and /metrics
//     are not gated: a stranger needs them to join.
import { Elysia } from "elysia";
import { readBrowserSession, signInPath } from "../auth/browser-session.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { instanceSettings } from "../system/settings.ts";
import { seeOther } from "./context.ts";
import { htmlResponder } from "./html.ts";
import { esc } from "./layout.ts";
import { CONTENT_PAGES, refreshInstance } from "./instance.ts";
import type { Settings } from "../caches.ts";

/** How stale the switch may be on API and media requests when nothing was written through this instance meanwhile. */
const SWITCH_REFRESH_MS = 1000;
/** Of those, the ones machines read: answered in the contract's JSON. */
const MACHINE = /(?:^\/oembed$|\/feed\.rss$)/;

export const signInToView = (deps: Deps) => {
  const html = htmlResponder(deps);
  const embedRefusal = () =>
    html(
      `<html lang="en"><head><meta charset="utf-8"><title>${esc(deps.caches.instance.name)}</title><meta name="robots" content="noindex"></head>` +
        `<body><main><p>This loop is for members of ${esc(deps.caches.instance.name)}.</p>` +
        `<p><a href="/signin" target="_top">Sign in to listen</a></p></main></body></html>`,
      { status: 401, cache: "no-store", frameable: true },
    );
  let refreshedAt = Number.NEGATIVE_INFINITY;
  let wrote = false;
  const refresh = async () => {
    refreshedAt = deps.clock.now();
    wrote = false;
    return (deps.caches.instance.sign_in_to_view = (await instanceSettings(deps)).sign_in_to_view);
  };
  const isWrite = (request: Request) => request.method !== "GET" && request.method !== "HEAD";
  return new Elysia({ name: "sign-in-to-view" })
    .onAfterHandle({ as: "global" }, ({ request }) => {
      if (isWrite(request)) wrote = true; // it may have changed the settings: the next API request reads them again
    })
    .onBeforeHandle({ as: "global" }, async ({ request, path }) => {
      if (path.startsWith("/api/v1/") || path.startsWith("/media/")) {
        if (wrote || deps.clock.now() - refreshedAt >= SWITCH_REFRESH_MS) await refresh();
        return;
      }
      if (!CONTENT_PAGES.test(path)) return;
      // All of the settings, which the page about to be rendered shows too (src/web/instance.ts).
      await refreshInstance(deps);
      if (!deps.caches.instance.sign_in_to_view) return;
      if (await readBrowserSession(deps, request)) return;
      if (MACHINE.test(path) || isWrite(request)) return errors.signInRequired().toResponse({ "cache-control": "no-store" });
      if (path.startsWith("/embed/")) return embedRefusal();
      const url = new URL(request.url);
      return seeOther(signInPath(url.pathname + url.search));
    });
};

/**
 * What the sign-in page says about a members-only community, the only page a stranger sees of it: its description and
 * rules (the name is in the page's header). Empty while the setting is off (the home page says it then).
 */
export function membersOnlyIntro(instance: Pick<Settings, "sign_in_to_view" | "description" | "rules">): string {
  if (!instance.sign_in_to_view) return "";
  const lines = (text: string) => text.split("\n").map(esc).join("<br>");
  return (
    `<p>${lines(instance.description)}</p><p>Only members see its loops: sign in, or ask for an account.</p>` +
    (instance.rules ? `<h2>Rules</h2><p class="rules">${lines(instance.rules)}</p>` : "")
  );
}

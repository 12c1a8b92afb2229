// The community's name, description and sign-up mode on every page (README "Operating a community"): they are settings its owner
// edits while the server runs (src/system/settings.ts), and pages are rendered by many route files that hold one
// shared object, deps.caches.instance. It is refreshed from the settings (a read cache hit while nothing was written)
// before anything renders a page:
// - pages an anonymous visitor gets from the page cache (the home feed, loop and profile pages, embeds, RSS) refresh
//   it in the cache's loader, `cachedPage`, so a cache hit costs no second check: a hit means nothing was written
//   since the page was rendered from settings read then;
// - every other page request refreshes it in the hook below, before its handler runs. Requests that render no page
//   (the API, media, assets, health) skip it.
import { Elysia } from "elysia";
import { SESSION_COOKIE } from "../auth/browser-session.ts";
import type { Deps } from "../deps.ts";
import { readCookie } from "../http/cookies.ts";
import { instanceSettings } from "../system/settings.ts";

/** Paths that render no page with the community's name. The API's browser pages (OAuth under /api/v1/auth/) do. */
const NO_PAGE = /^\/(?:api\/v1\/(?!auth\/)|media\/|assets\/|icons\/|docs|health$|readyz$)/;
/** Pages an anonymous visitor is served from the page cache (whose loader refreshes the settings). */
const CACHED = /^\/(?:$|\?|l\/|@|embed\/l\/|feed\.rss)/;

export async function refreshInstance(deps: Pick<Deps, "config" | "database" | "caches">): Promise<void> {
  Object.assign(deps.caches.instance, await instanceSettings(deps));
}

/** A page as anyone signed out sees it, from the page cache; rendered by `render` with fresh settings on a miss. */
export function cachedPage(deps: Pick<Deps, "config" | "database" | "caches">, key: string, render: () => Promise<string>): Promise<string> {
  return deps.caches.pages.get(key, async () => {
    await refreshInstance(deps);
    return render();
  });
}

export const instanceRefresh = (deps: Deps) =>
  new Elysia({ name: "instance-refresh" }).onBeforeHandle({ as: "global" }, async ({ path, request }) => {
    if (NO_PAGE.test(path) || (CACHED.test(path) && !readCookie(request, SESSION_COOKIE))) return;
    await refreshInstance(deps);
  });

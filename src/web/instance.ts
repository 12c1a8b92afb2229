// The community's name, description and sign-up mode on every page (README "Operating a community"): they are settings its owner
// edits while the server runs (src/system/settings.ts), and pages are rendered by many route files that hold one
// shared object, deps.caches.instance. It is refreshed from the settings (a read cache hit while nothing was written)
// before anything renders a page:
// - the pages that show the community's content (the home feed, loop and profile pages, embeds, RSS, oEmbed) are
//   refreshed by the "sign in to view" hook (src/web/sign-in-to-view.ts), which must read the settings there anyway
//   to decide whether a visitor may see them, before the page cache (deps.caches.pages) is asked;
// - every other page request refreshes it in the hook below, before its handler runs. Requests that render no page
//   (the API, media, assets, health) skip it.
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { instanceSettings } from "../system/settings.ts";

/** Paths that render no page with the community's name. The API's browser pages (OAuth under /api/v1/auth/) do. */
const NO_PAGE = /^\/(?:api\/v1\/(?!auth\/)|media\/|assets\/|icons\/|docs|health$|readyz$)/;
/** The pages that show the community's content: "sign in to view" guards them, refreshing the settings first. */
export const CONTENT_PAGES = /^\/(?:$|l\/|@|search$|discover$|embed\/|oembed$|feed\.rss$)/;

export async function refreshInstance(deps: Pick<Deps, "config" | "database" | "caches">): Promise<void> {
  Object.assign(deps.caches.instance, await instanceSettings(deps));
}

export const instanceRefresh = (deps: Deps) =>
  new Elysia({ name: "instance-refresh" }).onBeforeHandle({ as: "global" }, async ({ path }) => {
    if (!NO_PAGE.test(path) && !CONTENT_PAGES.test(path)) await refreshInstance(deps);
  });

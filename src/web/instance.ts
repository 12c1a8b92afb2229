// The community's name, description and sign-up mode on every page (README "Operating a community"): they are settings its owner
// edits while the server runs (src/system/settings.ts), and pages are rendered by many route files that hold one
// shared object, deps.caches.instance. This hook refreshes that object from the settings before each page request
// (a read cache hit while nothing was written), so whatever renders next shows the current values; requests that
// render no page (the API, media, assets, health) skip it.
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { instanceSettings } from "../system/settings.ts";

/** Paths that render no page with the community's name. The API's browser pages (OAuth under /api/v1/auth/) do. */
const NO_PAGE = /^\/(?:api\/v1\/(?!auth\/)|media\/|assets\/|icons\/|docs|health$|readyz$)/;

export async function refreshInstance(deps: Pick<Deps, "config" | "database" | "caches">): Promise<void> {
  Object.assign(deps.caches.instance, await instanceSettings(deps));
}

export const instanceRefresh = (deps: Deps) =>
  new Elysia({ name: "instance-refresh" }).onBeforeHandle({ as: "global" }, async ({ path }) => {
    if (!NO_PAGE.test(path)) await refreshInstance(deps);
  });

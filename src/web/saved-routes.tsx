// Saved loops in the web app (README "Saved loops"):
//   POST /l/:id/save   the loop page's 🔖 button, one of the loop page's toggles (web/loop-toggles.ts): field `save` =
//                      1 saves, 0 unsaves, absent toggles → { is_saved, save_count }; a refusal shows on the loop page
//   GET  /saved        your saved loops, most recently saved first, as loop cards; "More" pages through
// Both call the services of the API's routes (social/saves.ts) under the same `saves` rate limit.
import { Elysia, t } from "elysia";
import { readBrowserSession, signInPath } from "../auth/browser-session.ts";
import type { Deps } from "../deps.ts";
import { withCookies } from "../http/cookies.ts";
import { ApiError } from "../http/errors.ts";
import { pageOf, parsePage } from "../http/pagination.ts";
import { enrichPosts } from "../posts/enrich.ts";
import { listSaved, savePost, toggleSave, unsavePost } from "../social/saves.ts";
import { seeOther, viewerOf } from "./context.ts";
import { HIDDEN, htmlResponder } from "./html.ts";
import { csrfFor } from "./layout.ts";
import { Shell } from "./shell.tsx";
import { loopToggle } from "./loop-toggles.ts";
import { LoopCard } from "./ui/loop.tsx";

const PAGE_SIZE = 12;

export const savedRoutes = (deps: Deps) => {
  const html = htmlResponder(deps);

  const page = async (request: Request, query: { cursor?: string }) => {
    const auth = await readBrowserSession(deps, request);
    if (!auth) return seeOther(signInPath("/saved"));
    let p: ReturnType<typeof parsePage>;
    try {
      p = parsePage({ limit: String(PAGE_SIZE), cursor: query.cursor || undefined });
    } catch (err) {
      // A cursor that is not ours (edited by hand) is the first page again.
      if (err instanceof ApiError) return seeOther("/saved");
      throw err;
    }
    const { items, meta } = pageOf(await listSaved(deps, auth.user.id, p), p, (r) => ({ createdAt: r.savedAt, id: r.post.id }));
    const [posts, viewer] = await Promise.all([enrichPosts(deps, items, auth.user.id), viewerOf(deps, auth)]);
    const csrf = csrfFor(request, deps.config.PUBLIC_URL);
    const body = await (
      <Shell title="Saved loops" instance={deps.caches.instance} viewer={viewer} path="/saved" csrf={csrf.token} narrow>
        <h1>Saved loops</h1>
        {posts.length ? (
          <ul class="feed">
            {posts.map((post) => (
              <LoopCard post={post} csrf={csrf.token} signedIn />
            ))}
          </ul>
        ) : (
          <p class="empty">{query.cursor ? "No more saved loops." : "Nothing saved yet. Save a loop from its page (🔖) to find it here."}</p>
        )}
        {meta.has_more ? (
          <a class="more button secondary" href={`/saved?cursor=${encodeURIComponent(meta.next_cursor)}`}>
            More
          </a>
        ) : (
          ""
        )}
      </Shell>
    );
    return withCookies(html(body), [csrf.setCookie]);
  };

  return new Elysia({ name: "web-saved" })
    .get("/saved", ({ request, query }) => page(request, query as { cursor?: string }), HIDDEN)
    .use(
      loopToggle(deps, {
        name: "save",
        limit: "saves",
        on: savePost,
        off: unsavePost,
        toggle: toggleSave,
        summary: "Save or unsave a loop from the web app: field save=1 or 0 (absent: toggle)",
        state: t.Object({ is_saved: t.Boolean(), save_count: t.Integer() }, { examples: [{ is_saved: true, save_count: 4 }] }),
      }),
    );
};

// The web app's pages (docs/architecture.md "Web app"), served at the root next to the account pages (pages.ts):
//   /                       the instance's name and description; signed in: who you follow in the studio now and
//                           your timeline (global until you follow someone), with tabs for global, trending and
//                           discovery, under the row of stories (ui/stories.tsx); anonymous: trending and latest
//                           loops. "More loops" pages through (the client script turns it into infinite scroll: the
//                           same URL with x-fragment: 1 answers the cards).
// Reading works without JavaScript. Signed in is the HttpOnly browser-session cookie (auth/browser-session.ts); the
// page's forms carry the double-submit CSRF token. Anonymous pages are rendered once per database version (and
// per 5 s for trending) into deps.caches.pages, as the feeds are.
import { Elysia } from "elysia";
import { readBrowserSession } from "../auth/browser-session.ts";
import type { Deps } from "../deps.ts";
import { withCookies } from "../http/cookies.ts";
import { ApiError } from "../http/errors.ts";
import { parsePage } from "../http/pagination.ts";
import { decodeRankedCursor, type FeedPage, globalFeed, rankedFeed, unifiedFeed } from "../social/feeds.ts";
import { followingPresence } from "../realtime/presence.ts";
import { viewerOf } from "./context.ts";
import { htmlResponder, HIDDEN } from "./html.ts";
import { csrfFor } from "./layout.ts";
import { Avatar, Shell, type Viewer } from "./shell.tsx";
import { LoopCard } from "./ui/loop.tsx";
import { SiteFeedLink, siteOf } from "./ui/share.tsx";
import { type StoryGroupT, storiesFeed } from "../stories/service.ts";
import { StoriesRow } from "./ui/stories.tsx";

export type Tab = "timeline" | "global" | "trending" | "discovery";
const SIGNED_IN_TABS: readonly Tab[] = ["timeline", "global", "trending", "discovery"];
const ANONYMOUS_TABS: readonly Tab[] = ["trending", "global"];
const TAB_LABEL: Record<Tab, string> = { timeline: "Following", global: "Latest", trending: "Trending", discovery: "Discover" };
const PAGE_SIZE = 10;

async function feedFor(deps: Deps, tab: Tab, viewerId: string | null, cursor: string | undefined): Promise<FeedPage> {
  if (tab === "trending" || tab === "discovery") {
    const after = cursor ? decodeRankedCursor(cursor) : undefined;
    return rankedFeed(deps, viewerId, { limit: PAGE_SIZE, offset: 0, after }, { excludeFollowed: tab === "discovery" });
  }
  const page = parsePage({ limit: String(PAGE_SIZE), cursor });
  if (tab === "timeline" && viewerId) return unifiedFeed(deps, viewerId, page);
  return globalFeed(deps, viewerId, page);
}

/** The cards of one page and the link to the next (the client follows it with x-fragment: 1). */
function FeedItems(p: { feed: FeedPage; tab: Tab; csrf?: string; signedIn: boolean }): JSX.Element {
  const next = p.feed.meta.has_more ? `/?tab=${p.tab}&cursor=${encodeURIComponent(p.feed.meta.next_cursor)}` : "";
  return (
    <>
      {p.feed.posts.map((post) => (
        <LoopCard post={post} csrf={p.csrf} signedIn={p.signedIn} />
      ))}
      {next ? (
        <li class="pager">
          <a class="more button secondary" href={next} data-more>
            More loops
          </a>
        </li>
      ) : (
        ""
      )}
    </>
  ) as JSX.Element;
}

export const appRoutes = (deps: Deps) => {
  const { config } = deps;
  const html = htmlResponder(deps);
  const instance = deps.caches.instance;
  const feedLink = () => SiteFeedLink({ site: siteOf(deps) }) as string;

  const home = async (request: Request, query: { tab?: string; cursor?: string }) => {
    const auth = await readBrowserSession(deps, request);
    const tabs = auth ? SIGNED_IN_TABS : ANONYMOUS_TABS;
    const tab = (tabs as readonly string[]).includes(query.tab ?? "") ? (query.tab as Tab) : tabs[0]!;
    const cursor = query.cursor || undefined;
    const fragment = request.headers.get("x-fragment") === "1";
    try {
      if (!auth) {
        // Anonymous: the same page for everyone, rendered once per database version (5 s buckets for trending).
        const bucket = tab === "trending" ? Math.floor(deps.clock.now() / 5000) : 0;
        const body = await deps.caches.pages.get(`home|${tab}|${cursor ?? ""}|${fragment}|${bucket}`, async () => {
          const feed = await feedFor(deps, tab, null, cursor);
          if (fragment) return await (<FeedItems feed={feed} tab={tab} signedIn={false} />);
          return await renderHome({ viewer: null, tab, tabs, feed, studio: null });
        });
        return html(body, { cache: "public", fragment, request });
      }
      const csrf = csrfFor(request, config.PUBLIC_URL);
      const feed = await feedFor(deps, tab, auth.user.id, cursor);
      if (fragment) return withCookies(html(await (<FeedItems feed={feed} tab={tab} csrf={csrf.token} signedIn />), { fragment }), [csrf.setCookie]);
      const [viewer, studio, stories] = await Promise.all([viewerOf(deps, auth), followingPresence(deps, auth.user.id), storiesFeed(deps, auth.user.id)]);
      const body = await renderHome({ viewer, tab, tabs, feed, studio: studio.users.filter((u) => u.is_in_studio), csrf: csrf.token, stories: stories.groups });
      return withCookies(html(body), [csrf.setCookie]);
    } catch (err) {
      // A cursor that is not ours (edited by hand) is the first page again, not an error page.
      if (err instanceof ApiError && err.status === 400 && cursor) return Response.redirect(`/?tab=${tab}`, 303);
      throw err;
    }
  };

  type HomeView = {
    viewer: Viewer;
    tab: Tab;
    tabs: readonly Tab[];
    feed: FeedPage;
    studio: { user_id: string; username: string; display_name: string; avatar_url: string; daw: string }[] | null;
    csrf?: string;
    /** Signed in: the stories feed's groups (README "Stories"). */
    stories?: StoryGroupT[];
  };
  const renderHome = async (v: HomeView) =>
    await (
      <Shell title={instance.name} instance={instance} viewer={v.viewer} path="/" csrf={v.csrf} head={feedLink()}>
        <section class="hero">
          <h1 safe>{instance.name}</h1>
          <p safe>{instance.description}</p>
        </section>
        {v.viewer && v.stories ? <StoriesRow groups={v.stories} me={{ id: v.viewer.id, username: v.viewer.username, avatarUrl: v.viewer.avatarUrl }} /> : ""}
        {v.studio?.length ? (
          <section aria-labelledby="studio-now">
            <h2 id="studio-now">In the studio now</h2>
            <ul class="studio-list">
              {v.studio.map((u) => (
                <li>
                  <a href={`/@${u.username}`} title={u.daw ? `In ${u.daw}` : "In the studio"}>
                    <Avatar url={u.avatar_url} name={u.display_name || u.username} />
                    <span safe>{u.display_name || u.username}</span>
                    <span class="presence in_studio" data-presence={u.user_id} />
                  </a>
                </li>
              ))}
            </ul>
          </section>
        ) : (
          ""
        )}
        <nav class="tabs" aria-label="Feeds">
          {v.tabs.map((t) => (
            <a href={`/?tab=${t}`} aria-current={t === v.tab ? "page" : undefined} safe>
              {TAB_LABEL[t]}
            </a>
          ))}
        </nav>
        {v.tab === "timeline" && v.feed.meta.source === "global" ? (
          <p class="notice">You do not follow anyone yet: here is everyone's latest. Follow producers to make this your own.</p>
        ) : (
          ""
        )}
        <button type="button" class="new-loops" data-new-loops hidden>
          New loops
        </button>
        {v.feed.posts.length ? (
          <ul class="loops" data-feed={v.tab}>
            <FeedItems feed={v.feed} tab={v.tab} csrf={v.csrf} signedIn={Boolean(v.viewer)} />
          </ul>
        ) : (
          <p class="empty">No loops here yet.</p>
        )}
      </Shell>
    );

  return new Elysia({ name: "web-app" }).get("/", ({ request, query }) => home(request, query as { tab?: string; cursor?: string }), HIDDEN);
};

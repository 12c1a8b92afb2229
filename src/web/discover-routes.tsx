// The web app's discover page (README "Discover"; docs/architecture.md "Web app"): GET /discover lists the genres of
// ready loops with their counts as links, /discover?genre=… the loops of one genre as the feeds' cards (LoopCard),
// newest first, with "More loops" paging by cursor, and the producers you may like (or, signed out and while you
// follow nobody, active popular producers) with Follow buttons (ui/follow.tsx). Plain links and forms: it works
// without JavaScript. The same services as the API (src/discover/service.ts): blocked and muted producers are left
// out, only ready loops.
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { withCookies } from "../http/cookies.ts";
import { ApiError } from "../http/errors.ts";
import {
  discoverPage,
  genresWithCounts,
  loopsByGenre,
  recommendedProducers,
  type GenreCount,
  type GenreLoops,
  type ProducerList,
} from "../discover/service.ts";
import { pageContext } from "./context.ts";
import { HIDDEN, htmlResponder } from "./html.ts";
import { Avatar, Shell, type Viewer } from "./shell.tsx";
import { FollowButton } from "./ui/follow.tsx";
import { LoopList } from "./ui/loop-list.tsx";

const PAGE_SIZE = "10";
type Query = { genre?: string; cursor?: string };

/** A genre's page (and its next page). */
const genreUrl = (genre: string, cursor?: string) => `/discover?${new URLSearchParams(cursor ? { genre, cursor } : { genre })}`;

type View = {
  viewer: Viewer;
  csrf: string;
  genre: string;
  error: string;
  genres: GenreCount[];
  loops: GenreLoops | null;
  producers: ProducerList;
};

function Genres(p: { genres: GenreCount[]; current: string }): JSX.Element {
  return (
    <section aria-labelledby="genres">
      <h2 id="genres">Genres</h2>
      {p.genres.length ? (
        <ul class="genre-list">
          {p.genres.map((g) => (
            <li>
              <a class="genre-link" href={genreUrl(g.genre)} aria-current={g.genre.toLowerCase() === p.current.toLowerCase() ? "page" : undefined}>
                <span safe>{g.genre}</span> <span class="count" safe>{`${g.post_count} ${g.post_count === 1 ? "loop" : "loops"}`}</span>
              </a>
            </li>
          ))}
        </ul>
      ) : (
        <p class="empty">No loops have a genre yet.</p>
      )}
    </section>
  ) as JSX.Element;
}

function Producers(p: { list: ProducerList; viewer: Viewer; csrf: string }): JSX.Element {
  const title = p.list.source === "following" ? "Producers you may like" : "Popular producers";
  return (
    <section aria-labelledby="producers">
      <h2 id="producers">{title}</h2>
      {p.list.source === "following" ? <p class="muted">Followed by people you follow.</p> : ""}
      {p.list.users.length ? (
        <ul class="producer-list">
          {p.list.users.map((u) => (
            <li>
              <a class="producer-link" href={`/@${u.username}`}>
                <Avatar url={u.avatar_url} name={u.display_name || u.username} />
                <span>
                  <span class="name" safe>
                    {u.display_name || u.username}
                  </span>
                  <span class="muted" safe>{`@${u.username} · ${u.follower_count} ${u.follower_count === 1 ? "follower" : "followers"}`}</span>
                </span>
              </a>
              {p.viewer ? <FollowButton username={u.username} following={u.is_following} csrf={p.csrf} next="/discover" /> : ""}
            </li>
          ))}
        </ul>
      ) : (
        <p class="empty">Nobody to suggest yet.</p>
      )}
    </section>
  ) as JSX.Element;
}

export const discoverPages = (deps: Deps) => {
  const html = htmlResponder(deps);
  const instance = deps.caches.instance;

  const render = async (v: View) =>
    await (
      <Shell title={v.genre ? `${v.genre} · Discover` : "Discover"} instance={instance} viewer={v.viewer} path="/discover" csrf={v.csrf}>
        <h1>Discover</h1>
        {v.error ? (
          <p class="notice error" role="alert" safe>
            {v.error}
          </p>
        ) : (
          ""
        )}
        <Genres genres={v.genres} current={v.genre} />
        {v.loops ? (
          <section aria-labelledby="genre-loops">
            <h2 id="genre-loops" safe>{`Loops in ${v.genre}`}</h2>
            <LoopList
              posts={v.loops.posts}
              csrf={v.csrf}
              signedIn={Boolean(v.viewer)}
              more={v.loops.meta.has_more ? genreUrl(v.genre, v.loops.meta.next_cursor) : null}
              empty="No loops in this genre."
            />
          </section>
        ) : (
          ""
        )}
        <Producers list={v.producers} viewer={v.viewer} csrf={v.csrf} />
      </Shell>
    );

  const page = async (request: Request, query: Query) => {
    const ctx = await pageContext(deps, request);
    const viewerId = ctx.auth?.user.id ?? null;
    const genre = (query.genre ?? "").trim().slice(0, 100);
    let loops: GenreLoops | null = null;
    let error = "";
    if (genre) {
      try {
        loops = await loopsByGenre(deps, genre, viewerId, discoverPage("g", { limit: PAGE_SIZE, cursor: query.cursor || undefined }));
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 400) throw err;
        error = "This link to more loops is not valid any more: start again from the genre.";
      }
    }
    const [genres, producers] = await Promise.all([genresWithCounts(deps, 50), recommendedProducers(deps, viewerId, { limit: 8, offset: 0 })]);
    const view: View = { viewer: ctx.viewer, csrf: ctx.csrf.token, genre, error, genres, loops, producers };
    return withCookies(html(await render(view), { status: error ? 400 : 200 }), [ctx.csrf.setCookie]);
  };

  return new Elysia({ name: "web-discover" }).get("/discover", ({ request, query }) => page(request, query as Query), HIDDEN);
};

// The web app's search page (README "Search"; docs/architecture.md "Web app"): GET /search with the query and the
// filters as a plain GET form, so it works without JavaScript and every search is a link. Producers matching the
// text are shown as profile links, loops as the feeds' cards (LoopCard), newest first, with "More loops" paging by
// cursor. The same services as the API (src/search/service.ts): blocked producers are left out, only ready loops.
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { withCookies } from "../http/cookies.ts";
import { ApiError } from "../http/errors.ts";
import { parseLoopSearch, type LoopSearchQuery } from "../search/query.ts";
import { searchPage, searchPosts, searchUsers, type PostSearchPage, type UserSearchPage } from "../search/service.ts";
import { pageContext } from "./context.ts";
import { HIDDEN, htmlResponder } from "./html.ts";
import { Avatar, Shell, type Viewer } from "./shell.tsx";
import { LoopList } from "./ui/loop-list.tsx";

const PAGE_SIZE = "10";
type Query = LoopSearchQuery & { cursor?: string };
const FIELDS = ["q", "genre", "key", "daw", "bpm_min", "bpm_max", "duration_min", "duration_max"] as const;

/** The URL of this search with another cursor (the "More loops" link). */
function searchUrl(q: Query, cursor: string): string {
  const params = new URLSearchParams();
  for (const f of FIELDS) if (q[f]) params.set(f, q[f]!);
  if (q.relative === "false") params.set("relative", "false");
  params.set("cursor", cursor);
  return `/search?${params}`;
}

type View = {
  viewer: Viewer;
  csrf: string;
  query: Query;
  error: Record<string, string> | null;
  loops: PostSearchPage | null;
  producers: UserSearchPage | null;
};

function Field(p: {
  id: string;
  name: (typeof FIELDS)[number];
  label: string;
  value?: string;
  placeholder: string;
  error?: string;
  mode?: string;
}): JSX.Element {
  return (
    <div>
      <label for={p.id} safe>
        {p.label}
      </label>
      <input
        id={p.id}
        name={p.name}
        value={p.value ?? ""}
        placeholder={p.placeholder}
        maxlength="50"
        inputmode={p.mode}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={p.error ? `${p.id}-error` : undefined}
      />
      {p.error ? (
        <p class="field-error" id={`${p.id}-error`} safe>
          {p.error}
        </p>
      ) : (
        ""
      )}
    </div>
  ) as JSX.Element;
}

export const searchPages = (deps: Deps) => {
  const html = htmlResponder(deps);
  const instance = deps.caches.instance;

  const render = async (v: View) =>
    await (
      <Shell title="Search" instance={instance} viewer={v.viewer} path="/search" csrf={v.csrf}>
        <h1>Search</h1>
        <search>
          <form method="get" action="/search" class="search-form">
            <label for="s-q">Loops and producers</label>
            <input id="s-q" name="q" type="search" value={v.query.q ?? ""} maxlength="200" placeholder="Title, producer, genre, DAW" />
            <div class="row fields">
              <Field id="s-bpm-min" name="bpm_min" label="BPM from" value={v.query.bpm_min} placeholder="90" mode="decimal" error={v.error?.bpm_min} />
              <Field id="s-bpm-max" name="bpm_max" label="BPM to" value={v.query.bpm_max} placeholder="130" mode="decimal" error={v.error?.bpm_max} />
              <Field id="s-key" name="key" label="Key" value={v.query.key} placeholder="A minor" error={v.error?.key} />
            </div>
            <div class="row fields">
              <Field id="s-genre" name="genre" label="Genre" value={v.query.genre} placeholder="lofi" error={v.error?.genre} />
              <Field id="s-daw" name="daw" label="DAW" value={v.query.daw} placeholder="Ableton Live" error={v.error?.daw} />
            </div>
            <label class="row">
              <input type="checkbox" name="relative" value="false" checked={v.query.relative === "false"} /> Only this key (not its relative major or minor)
            </label>
            <button type="submit">Search</button>
          </form>
        </search>
        {v.error?.q || v.error?.cursor ? (
          <p class="notice error" role="alert" safe>
            {v.error.q ?? v.error.cursor}
          </p>
        ) : (
          ""
        )}
        {v.producers?.users.length ? (
          <section aria-labelledby="found-producers">
            <h2 id="found-producers">Producers</h2>
            <ul class="studio-list">
              {v.producers.users.map((u) => (
                <li>
                  <a href={`/@${u.username}`}>
                    <Avatar url={u.avatar_url} name={u.display_name || u.username} />
                    <span safe>{u.display_name || u.username}</span>
                  </a>
                </li>
              ))}
            </ul>
          </section>
        ) : (
          ""
        )}
        {v.loops ? (
          <section aria-labelledby="found-loops">
            <h2 id="found-loops">Loops</h2>
            <LoopList
              posts={v.loops.posts}
              csrf={v.csrf}
              signedIn={Boolean(v.viewer)}
              more={v.loops.meta.has_more ? searchUrl(v.query, v.loops.meta.next_cursor) : null}
              empty="No loops found. Try other words or fewer filters."
            />
          </section>
        ) : (
          ""
        )}
      </Shell>
    );

  const page = async (request: Request, query: Query) => {
    const ctx = await pageContext(deps, request);
    const viewerId = ctx.auth?.user.id ?? null;
    const asked = FIELDS.some((f) => query[f]?.trim());
    const view: View = { viewer: ctx.viewer, csrf: ctx.csrf.token, query, error: null, loops: null, producers: null };
    if (asked) {
      try {
        const search = parseLoopSearch(query);
        const p = searchPage("p", { limit: PAGE_SIZE, cursor: query.cursor || undefined });
        view.loops = await searchPosts(deps, search, viewerId, p);
        // Producers on the first page only, when there is text.
        if (query.q?.trim() && !query.cursor) view.producers = await searchUsers(deps, query.q, viewerId, { limit: 6, offset: 0 });
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 400) throw err;
        view.error = err.fields ?? { q: err.message };
        view.loops = null;
      }
    }
    return withCookies(html(await render(view), { status: view.error ? 400 : 200 }), [ctx.csrf.setCookie]);
  };

  return new Elysia({ name: "web-search" }).get("/search", ({ request, query }) => page(request, query as Query), HIDDEN);
};

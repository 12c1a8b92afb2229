// /api/v1/search: the plugin's search routes (plugin/src/network/api/SearchClient.cpp and DiscoveryClient.cpp
// upstream; docs/plugin-contract.md "Search") with the shapes it parses. All public, personalised with a token.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { memoizedJson } from "../http/json-body.ts";
import { PageMeta } from "../http/pagination.ts";
import { Post, postExample } from "../posts/models.ts";
import { PublicUser } from "../users/models.ts";
import { parseLoopSearch } from "./query.ts";
import { autocompleteGenres, autocompleteUsers, searchPage, searchPosts, searchUsers, suggestions, type PostSearchPage } from "./service.ts";

const text = (description: string) => t.Optional(t.String({ description }));
const pageFields = {
  limit: text("1–100, default 20"),
  offset: text("rows to skip (plugin); prefer cursor"),
  cursor: text("opaque: meta.next_cursor of the previous page"),
};

const LoopQuery = t.Object({
  q: text("words of the title, producer (username or display name), genre, DAW or key; the last word matches as a prefix"),
  genre: text("one genre, exactly (any case)"),
  key: text("a key as uploads name it (Am, F# major, 8A); finds every spelling and, unless relative=false, the relative major/minor"),
  relative: text("true (default) or false: include the key's relative major/minor"),
  daw: text("the DAW, exactly (any case)"),
  bpm_min: text("lowest BPM, 0–999"),
  bpm_max: text("highest BPM, 0–999"),
  duration_min: text("shortest duration in seconds"),
  duration_max: text("longest duration in seconds"),
  ...pageFields,
});
const NameQuery = t.Object({ q: text("words of a username or display name"), ...pageFields });
const PrefixQuery = t.Object({ q: text("the start of what is being typed"), limit: text("1–50, default 10") });

const total = t.Integer({ description: "offset + count, plus one while there is more (what the plugin reads to load more)" });
const LoopResults = t.Object(
  { posts: t.Array(Post), meta: PageMeta, total_count: total },
  { examples: [{ posts: [postExample], meta: { count: 1, has_more: true, next_cursor: "WyJwIiw0Ml0" }, total_count: 2 }] },
);
const UserResults = t.Object(
  { users: t.Array(PublicUser), meta: PageMeta, total_count: total },
  { examples: [{ users: PublicUser.examples, meta: { count: 1, has_more: false, next_cursor: "" }, total_count: 1 }] },
);
const Suggestions = t.Object({ suggestions: t.Array(t.String()), count: t.Integer() }, { examples: [{ suggestions: ["lofi", "lofimike"], count: 2 }] });

// A page of loops' JSON is made once per page and meta, as the feeds do (social/feed-routes.ts): ~25 KB of
// validation and serialization saved per request.
const loopJson = memoizedJson<PostSearchPage>(LoopResults, "search page");
const loopAnswer = (page: PostSearchPage) => loopJson(page, page.posts, [page.meta, page.total_count]);

const readErrors = { 400: ErrorSchema, 401: ErrorSchema };

/** A suggestion list's size: 1–50, default 10. */
function suggestionLimit(raw: string | undefined): number {
  if (raw === undefined || raw === "") return 10;
  if (!/^\d{1,2}$/.test(raw) || Number(raw) < 1 || Number(raw) > 50) throw errors.validation({ limit: "Must be a whole number from 1 to 50" });
  return Number(raw);
}

type Viewer = { user: { id: string } } | null;
const viewerId = (v: Viewer) => v?.user.id ?? null;

export const searchRoutes = (deps: Deps) =>
  new Elysia({ name: "search-routes", detail: { tags: ["search"] } })
    .use(authGuard(deps))
    .get(
      "/search/posts",
      async ({ query, viewer }) => {
        const search = parseLoopSearch(query);
        const page = searchPage("p", query);
        return loopAnswer(await searchPosts(deps, search, viewerId(viewer), page));
      },
      {
        viewer: true,
        query: LoopQuery,
        response: { 200: LoopResults, ...readErrors },
        detail: { summary: "Loops by title, producer, genre, DAW and key, with BPM, key, genre, DAW and duration filters; newest first (plugin)" },
      },
    )
    .get(
      "/search/users",
      async ({ query, viewer }) => {
        if (!query.q?.trim()) throw errors.validation({ q: "Type a name to search for" });
        if (query.q.length > 200) throw errors.validation({ q: "At most 200 characters" });
        return searchUsers(deps, query.q, viewerId(viewer), searchPage("u", query));
      },
      {
        viewer: true,
        query: NameQuery,
        response: { 200: UserResults, ...readErrors },
        detail: { summary: "Producers by username or display name, most followed first (plugin)" },
      },
    )
    .get(
      "/search/autocomplete/users",
      async ({ query, viewer }) => {
        const found = await autocompleteUsers(deps, query.q, viewerId(viewer), suggestionLimit(query.limit));
        return { suggestions: found, count: found.length };
      },
      {
        viewer: true,
        query: PrefixQuery,
        response: { 200: Suggestions, ...readErrors },
        detail: { summary: "Usernames for what is being typed (each word a prefix of the username or display name) (plugin)" },
      },
    )
    .get(
      "/search/autocomplete/genres",
      async ({ query }) => {
        const found = await autocompleteGenres(deps, query.q, suggestionLimit(query.limit));
        return { suggestions: found, count: found.length };
      },
      {
        viewer: true,
        query: PrefixQuery,
        response: { 200: Suggestions, ...readErrors },
        detail: { summary: "Genres of ready loops starting with the text, most used first (plugin)" },
      },
    )
    .get(
      "/search/suggestions",
      async ({ query, viewer }) => {
        const found = await suggestions(deps, query.q, viewerId(viewer), suggestionLimit(query.limit));
        return { suggestions: found, count: found.length };
      },
      {
        viewer: true,
        query: PrefixQuery,
        response: { 200: Suggestions, ...readErrors },
        detail: { summary: "Searches to offer while typing: matching genres, usernames and loop titles (plugin)" },
      },
    );

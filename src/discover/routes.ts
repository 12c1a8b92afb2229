// Discover's routes (docs/plugin-contract.md "Discover"; README "Discover"): the plugin's /discover/*,
// /users/recommended, /users/{id}/similar and /recommendations/similar-posts/{id} (plugin/src/network/api/
// DiscoveryClient.cpp and FeedClient.cpp upstream), with the shapes it parses: `users` arrays of public users,
// `genres` an array of strings, loops in the feeds' `{posts, meta}`. All GETs, public, personalised with a token.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema } from "../http/errors.ts";
import { memoizedJson } from "../http/json-body.ts";
import { PageMeta } from "../http/pagination.ts";
import { Post, postExample } from "../posts/models.ts";
import { PublicUser } from "../users/models.ts";
import {
  clampedNumber,
  discoverPage,
  featuredProducers,
  genresWithCounts,
  loopsByGenre,
  recommendedProducers,
  similarLoops,
  type GenreLoops as GenreLoopsT,
  type LoopList,
  similarProducers,
  trendingProducers,
} from "./service.ts";

const text = (description: string) => t.Optional(t.String({ description }));
const limitField = { limit: text("1–100, default 20 (clamped)") };
const pageFields = { ...limitField, offset: text("rows to skip (plugin), clamped to 0–1,000,000; prefer cursor"), cursor: text("meta.next_cursor") };
const PageQuery = t.Object(pageFields);
const LimitQuery = t.Object(limitField);

const pageMetaExample = { count: 1, has_more: false, next_cursor: "" };
const user = PublicUser.examples[0];
const Users = t.Object({ users: t.Array(PublicUser) }, { examples: [{ users: [user] }] });
const Genres = t.Object(
  {
    genres: t.Array(t.String(), { description: "genre names, most used first (what the plugin reads)" }),
    genre_counts: t.Array(t.Object({ genre: t.String(), post_count: t.Integer({ description: "ready loops carrying the genre" }) })),
  },
  {
    examples: [
      {
        genres: ["lofi", "house"],
        genre_counts: [
          { genre: "lofi", post_count: 12 },
          { genre: "house", post_count: 3 },
        ],
      },
    ],
  },
);
const Loops = t.Object({ posts: t.Array(Post), meta: PageMeta }, { examples: [{ posts: [postExample], meta: pageMetaExample }] });
const GenreLoops = t.Object(
  { posts: t.Array(Post), users: t.Array(PublicUser, { description: "the producers of this page's loops, in order" }), meta: PageMeta },
  { examples: [{ posts: [postExample], users: [user], meta: pageMetaExample }] },
);
const Recommended = t.Object(
  {
    users: t.Array(PublicUser),
    meta: PageMeta,
    source: t.Union([t.Literal("following"), t.Literal("popular")], {
      description: "following: followed by the people you follow; popular: active popular producers (you follow nobody)",
    }),
  },
  { examples: [{ users: [user], meta: pageMetaExample, source: "following" }] },
);

const readErrors = { 400: ErrorSchema, 401: ErrorSchema };

// A page of loops' JSON is made once per page (the same array while the discover cache keeps it) and the rest of the
// answer, as search's and the feeds' are (src/http/json-body.ts).
const loopsJson = memoizedJson<LoopList>(Loops, "similar loops");
const genreJson = memoizedJson<GenreLoopsT>(GenreLoops, "genre page");

type Viewer = { user: { id: string } } | null;
const viewerId = (v: Viewer) => v?.user.id ?? null;
/** The producer lists' size: `limit` 1–100, default 10 (clamped). */
const listLimit = (raw: string | undefined) => clampedNumber("limit", raw, 10, 1, 100);

export const discoverRoutes = (deps: Deps) => {
  const recommended = async ({ query, viewer }: { query: Record<string, string | undefined>; viewer: Viewer }) =>
    recommendedProducers(deps, viewerId(viewer), discoverPage("r", query, 10));
  const similar = async ({ params, query, viewer }: { params: { id: string }; query: Record<string, string | undefined>; viewer: Viewer }) => {
    const list = await similarLoops(deps, params.id, viewerId(viewer), discoverPage("s", query, 10));
    return loopsJson(list, list.posts, list.meta);
  };
  const recommendedOptions = (summary: string) => ({
    viewer: true as const,
    query: PageQuery,
    response: { 200: Recommended, ...readErrors },
    detail: { summary },
  });
  const similarOptions = (summary: string) => ({
    viewer: true as const,
    query: PageQuery,
    response: { 200: Loops, ...readErrors, 404: ErrorSchema },
    detail: { summary },
  });
  return new Elysia({ name: "discover-routes", detail: { tags: ["discover"] } })
    .use(authGuard(deps))
    .get(
      "/discover/genres",
      async ({ query }) => {
        const counts = await genresWithCounts(deps, clampedNumber("limit", query.limit, 50, 1, 100));
        return { genres: counts.map((c) => c.genre), genre_counts: counts };
      },
      {
        viewer: true,
        query: t.Object({ limit: text("1–100, default 50 (clamped)") }),
        response: { 200: Genres, ...readErrors },
        detail: { summary: "Genres of ready loops with how many loops carry each, most used first (plugin)" },
      },
    )
    .get(
      "/discover/genre/:genre",
      async ({ params, query, viewer }) => {
        const page = await loopsByGenre(deps, params.genre, viewerId(viewer), discoverPage("g", query));
        return genreJson(page, page.posts, [page.meta, page.users]);
      },
      {
        viewer: true,
        params: t.Object({ genre: t.String({ maxLength: 200 }) }),
        query: PageQuery,
        response: { 200: GenreLoops, ...readErrors },
        detail: { summary: "Loops of one genre (any case), newest first, with the producers of the page (plugin reads users)" },
      },
    )
    .get("/discover/featured", async ({ query, viewer }) => ({ users: await featuredProducers(deps, viewerId(viewer), listLimit(query.limit)) }), {
      viewer: true,
      query: LimitQuery,
      response: { 200: Users, ...readErrors },
      detail: { summary: "Featured producers: the most followed producers active in the last 30 days (plugin)" },
    })
    .get("/discover/trending", async ({ query, viewer }) => ({ users: await trendingProducers(deps, viewerId(viewer), listLimit(query.limit)) }), {
      viewer: true,
      query: LimitQuery,
      response: { 200: Users, ...readErrors },
      detail: { summary: "Trending producers: the producers of the trending loops, in the trending order (plugin)" },
    })
    .get("/discover/suggested", recommended, recommendedOptions("Producers you may like (the same list as /users/recommended) (plugin)"))
    .get("/users/recommended", recommended, recommendedOptions("Producers you may like: followed by the people you follow, active recently (plugin)"))
    .get(
      "/users/:id/similar",
      async ({ params, query, viewer }) => ({ users: await similarProducers(deps, params.id, viewerId(viewer), listLimit(query.limit)) }),
      {
        viewer: true,
        query: LimitQuery,
        response: { 200: Users, ...readErrors, 404: ErrorSchema },
        detail: { summary: "Producers like one producer: most followed by its newest followers (plugin)" },
      },
    )
    .get(
      "/recommendations/similar-posts/:id",
      similar,
      similarOptions("Loops similar to one: shared genre, same or relative key, BPM ±3 or half/double time (plugin)"),
    )
    .get("/posts/:id/similar", similar, similarOptions("Loops similar to one (REST spelling of /recommendations/similar-posts/{id})"));
};

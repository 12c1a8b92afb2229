// Sharing beyond the page itself (docs/architecture.md "Web app"):
//   /embed/l/:id             the player alone, the one page any site may frame (CSP frame-ancestors *)
//   /oembed?url=&format=json  oEmbed 1.0 "rich" for a loop page of this server: the embed as an iframe
//   /feed.rss                 RSS 2.0: the instance's latest 50 ready loops, the MP3 as each item's enclosure
//   /@:username/feed.rss      RSS 2.0: one producer's latest 50
// Only ready loops exist here: unknown, processing, failed and removed loops are 404 (chat snippets are never posts).
// Everything is the same for every visitor, so each answer is rendered once per database version
// (deps.caches.pages).
import { Elysia, t } from "elysia";
import type { Deps } from "../deps.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { xml } from "../lib/xml.ts";
import { enrichPosts } from "../posts/enrich.ts";
import type { PostT } from "../posts/models.ts";
import { findVisiblePost, listUserPosts } from "../posts/service.ts";
import { globalFeed } from "../social/feeds.ts";
import { findUserByIdOrUsername } from "../users/profile.ts";
import { SCRIPT, STYLESHEET } from "./assets.ts";
import { htmlResponder } from "./html.ts";
import { displayName, Player } from "./ui/loop.tsx";
import { NotFoundPage } from "./ui/not-found.tsx";
import { EMBED_SIZE, embedUrl, loopDescription, loopTitle, loopUrl, profileUrl, type ShareImage, type Site, shareImage, siteOf } from "./ui/share.tsx";

const RSS_ITEMS = 50;
const RSS_TYPE = "application/rss+xml; charset=utf-8";

/** A ready loop anyone may see, as anyone sees it, with its share picture; null otherwise. */
async function publicLoop(deps: Deps, id: string): Promise<{ post: PostT; image: ShareImage } | null> {
  const row = id.length <= 64 ? await findVisiblePost(deps, id, null) : null;
  if (!row) return null;
  const post = (await enrichPosts(deps, [row], null))[0]!;
  return { post, image: shareImage(deps, row.post, post) };
}

function EmbedPage(p: { post: PostT; site: Site }): JSX.Element {
  const title = loopTitle(p.post);
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <title safe>{`${title} · ${p.site.name}`}</title>
        <meta name="robots" content="noindex" />
        <link rel="stylesheet" href={STYLESHEET.path} />
        <link rel="canonical" href={loopUrl(p.site, p.post.id)} />
        <script type="module" src={SCRIPT.path} />
      </head>
      <body class="embed">
        <main id="main">
          <Player post={p.post} />
          <p class="embed-credit">
            <a href={loopUrl(p.site, p.post.id)} target="_blank" rel="noopener" safe>
              {title}
            </a>{" "}
            <span class="muted" safe>{`by @${p.post.username} on ${p.site.name}`}</span>
          </p>
        </main>
        <div class="player-bar" data-player-bar hidden />
      </body>
    </html>
  ) as JSX.Element;
}

/** The iframe an oEmbed consumer pastes, rendered by JSX (attributes escaped). */
function EmbedFrame(p: { src: string; height: number; title: string }): JSX.Element {
  return (<iframe src={p.src} width="100%" height={String(p.height)} frameborder="0" allow="autoplay" title={p.title} loading="lazy" />) as JSX.Element;
}

type Channel = { title: string; link: string; self: string; description: string };

export const shareRoutes = (deps: Deps) => {
  const { config } = deps;
  const html = htmlResponder(deps);
  const site: Site = siteOf(deps);
  const instance = deps.caches.instance;
  const mediaBase = `${config.PUBLIC_URL}/media/`;

  /** The MP3's size for the enclosure when it is on this server's disk (a stat); 0 otherwise (RSS allows it). */
  async function mp3Bytes(post: PostT): Promise<number> {
    if (deps.storage.driver !== "local" || !post.mp3_url.startsWith(mediaBase)) return 0;
    try {
      return (await deps.storage.head(post.mp3_url.slice(mediaBase.length)))?.size ?? 0;
    } catch {
      return 0;
    }
  }

  async function rss(channel: Channel, posts: PostT[]): Promise<string> {
    const sizes = await Promise.all(posts.map(mp3Bytes));
    const items = posts.map((post, i) => {
      const url = loopUrl(site, post.id);
      return xml`
<item>
  <title>${loopTitle(post)}</title>
  <link>${url}</link>
  <guid isPermaLink="true">${url}</guid>
  <pubDate>${new Date(post.created_at).toUTCString()}</pubDate>
  <description>${loopDescription(post)}</description>
  <dc:creator>${`${displayName(post)} (@${post.username})`}</dc:creator>${post.genres.map(
    (g) => xml`
  <category>${g}</category>`,
  )}
  <enclosure url="${post.mp3_url}" type="audio/mpeg" length="${sizes[i]}"/>
</item>`;
    });
    const built = posts[0] ? new Date(posts[0].created_at).toUTCString() : new Date(deps.clock.now()).toUTCString();
    return xml`<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
<title>${channel.title}</title>
<link>${channel.link}</link>
<description>${channel.description}</description>
<atom:link href="${channel.self}" rel="self" type="application/rss+xml"/>
<generator>Sidechain</generator>
<lastBuildDate>${built}</lastBuildDate>${items}
</channel>
</rss>
`.text;
  }

  const rssResponse = (body: string) =>
    new Response(body, { headers: { "content-type": RSS_TYPE, "cache-control": "public, max-age=300", "x-content-type-options": "nosniff" } });

  const notFoundPage = async (path: string) =>
    html(
      await (<NotFoundPage instance={instance} viewer={null} path={path} what="There is no loop here: it may have been removed, or the link is mistyped." />),
      {
        status: 404,
        cache: "public",
      },
    );

  return new Elysia({ name: "web-share" })
    .get(
      "/embed/l/:id",
      async ({ params, request }) => {
        const body = await deps.caches.pages.get(`embed|${params.id}`, async () => {
          const loop = await publicLoop(deps, params.id);
          return loop ? await (<EmbedPage post={loop.post} site={site} />) : "";
        });
        return body ? html(body, { cache: "public", frameable: true, request }) : notFoundPage(`/embed/l/${params.id}`);
      },
      { detail: { hide: true } },
    )
    .get(
      "/oembed",
      async ({ query, status }) => {
        if ((query.format ?? "json") !== "json") {
          // oEmbed 1.0 §2.2: a format the provider does not serve is 501 Not Implemented.
          return status(501, { error: "format_not_implemented", message: "Only format=json is served" });
        }
        let id: string | null = null;
        try {
          const url = new URL(query.url);
          const base = new URL(config.PUBLIC_URL);
          const m = /^\/l\/([^/]{1,64})$/.exec(url.pathname);
          if (url.origin === base.origin && m) id = decodeURIComponent(m[1]!);
        } catch {
          id = null;
        }
        const loop = id ? await publicLoop(deps, id) : null;
        if (!loop) throw errors.notFound("not_found", "No loop of this server at that URL");
        const { post, image } = loop;
        const cap = (value: number, max?: string) => (max && Number(max) > 0 ? Math.min(value, Number(max)) : value);
        const width = cap(EMBED_SIZE.width, query.maxwidth);
        const height = cap(EMBED_SIZE.height, query.maxheight);
        const title = loopTitle(post);
        return {
          version: "1.0" as const,
          type: "rich" as const,
          title,
          author_name: displayName(post),
          author_url: profileUrl(site, post.username),
          provider_name: site.name,
          provider_url: `${site.publicUrl}/`,
          cache_age: 3600,
          html: await (<EmbedFrame src={embedUrl(site, post.id)} height={height} title={`${title} by @${post.username}`} />),
          width,
          height,
          // oEmbed 1.0 §2.3.4: a thumbnail comes with its size, so only a picture of known size is offered.
          ...(image.width && image.height ? { thumbnail_url: image.url, thumbnail_width: image.width, thumbnail_height: image.height } : {}),
        };
      },
      {
        query: t.Object({
          url: t.String({ maxLength: 2048, description: "a loop page of this server: PUBLIC_URL/l/{id}" }),
          format: t.Optional(t.String({ maxLength: 16, description: "json (the only format served; others answer 501)" })),
          maxwidth: t.Optional(t.String({ pattern: "^[0-9]{1,5}$" })),
          maxheight: t.Optional(t.String({ pattern: "^[0-9]{1,5}$" })),
        }),
        response: { 200: OEmbed, 400: ErrorSchema, 404: ErrorSchema, 501: ErrorSchema },
        detail: {
          tags: ["web"],
          summary: "oEmbed 1.0 for a loop page: type rich, the embed player as an iframe",
          description:
            "For a URL of this server's loop pages (PUBLIC_URL/l/{id}); 404 for any other URL or a loop that is not public; 501 for a format other than json.",
        },
      },
    )
    .get(
      "/feed.rss",
      async () => {
        const body = await deps.caches.pages.get("rss|site", async () => {
          const feed = await globalFeed(deps, null, { limit: RSS_ITEMS, offset: 0 });
          return rss({ title: site.name, link: `${site.publicUrl}/`, self: `${site.publicUrl}/feed.rss`, description: instance.description }, feed.posts);
        });
        return rssResponse(body);
      },
      { detail: { tags: ["web"], summary: "RSS 2.0: the latest 50 loops of this server, the MP3 as enclosure", responses: rssDoc } },
    )
    .get(
      "/@:username/feed.rss",
      async ({ params }) => {
        const handle = params.username.trim().toLowerCase();
        const body = await deps.caches.pages.get(`rss|user|${handle}`, async () => {
          const user = await findUserByIdOrUsername(deps, handle);
          if (!user || user.username !== handle) return "";
          const rows = (await listUserPosts(deps, user.id, null, { limit: RSS_ITEMS })).slice(0, RSS_ITEMS);
          const posts = await enrichPosts(deps, rows, null);
          const link = profileUrl(site, user.username);
          const name = user.displayName || user.username;
          return rss(
            { title: `${name} (@${user.username}) on ${site.name}`, link, self: `${link}/feed.rss`, description: user.bio || `Loops by @${user.username}` },
            posts,
          );
        });
        if (!body) throw errors.notFound("user_not_found", "No such user");
        return rssResponse(body);
      },
      {
        params: t.Object({ username: t.String({ maxLength: 64 }) }),
        detail: { tags: ["web"], summary: "RSS 2.0: a producer's latest 50 loops, the MP3 as enclosure", responses: { ...rssDoc, 404: jsonError } },
      },
    );
};

const OEmbed = t.Object(
  {
    version: t.Literal("1.0"),
    type: t.Literal("rich"),
    title: t.String(),
    author_name: t.String(),
    author_url: t.String(),
    provider_name: t.String(),
    provider_url: t.String(),
    cache_age: t.Integer(),
    html: t.String({ description: "an <iframe> of /embed/l/{id}" }),
    width: t.Integer(),
    height: t.Integer(),
    thumbnail_url: t.Optional(t.String({ description: "the loop's share card (1200×630 PNG), or its waveform PNG until the card is drawn" })),
    thumbnail_width: t.Optional(t.Integer()),
    thumbnail_height: t.Optional(t.Integer()),
  },
  {
    examples: [
      {
        version: "1.0",
        type: "rich",
        title: "Midnight chords",
        author_name: "Night Beats",
        author_url: "http://localhost:8787/@nightbeats",
        provider_name: "Sidechain",
        provider_url: "http://localhost:8787/",
        cache_age: 3600,
        html:
          '<iframe src="http://localhost:8787/embed/l/01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b" width="100%" height="120" frameborder="0" ' +
          'allow="autoplay" title="Midnight chords by @nightbeats" loading="lazy"></iframe>',
        width: 480,
        height: 120,
        thumbnail_url: "http://localhost:8787/media/loops/01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b/7f6e5d4c3b2a19080f1e2d3c4b5a6978.png",
        thumbnail_width: 1200,
        thumbnail_height: 630,
      },
    ],
  },
);

const jsonError = { description: "Unknown producer", content: { "application/json": { schema: { type: "object" as const } } } };
const rssDoc = {
  200: {
    description: 'RSS 2.0 (application/rss+xml): one item per loop, with <enclosure type="audio/mpeg"> pointing at the MP3',
    content: {
      "application/rss+xml": {
        schema: { type: "string" as const },
        example:
          '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0">…<item><title>Midnight chords</title>…' +
          '<enclosure url="http://localhost:8787/media/loops/…/….mp3" type="audio/mpeg" length="256000"/></item>…</rss>',
      },
    },
  },
};

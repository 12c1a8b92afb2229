// What a link to a loop or a producer unfurls into where people paste it (docs/architecture.md "Web app"): Open
// Graph and music: tags, the Twitter player card (pointing at the framable /embed/l/:id), the oEmbed discovery link,
// and JSON-LD (schema.org MusicRecording). All of it is head elements handed to <Shell head=...>; attributes are
// escaped by JSX, and the JSON-LD is data (browsers do not run it, so script-src 'self' does not block it) escaped
// so that nothing in it can close its <script> element.
import { CARD_SIZE } from "../../audio/card.ts";
import { DEFAULT_PNG_OPTIONS } from "../../audio/png.ts";
import { loopFacts, type PostRow, type PostT } from "../../posts/models.ts";
import type { PublicUserT } from "../../users/models.ts";
import { displayName } from "./loop.tsx";

/** What a share block needs to know about the server. */
export type Site = { readonly publicUrl: string; readonly name: string };

/** The server's Site, its name read from the live settings object when a page renders (web/instance.ts). */
export function siteOf(deps: { config: { PUBLIC_URL: string }; caches: { instance: { name: string } } }): Site {
  return {
    publicUrl: deps.config.PUBLIC_URL,
    get name() {
      return deps.caches.instance.name;
    },
  };
}

/** The size the embed player asks for (twitter:player, oEmbed). */
export const EMBED_SIZE = { width: 480, height: 120 } as const;

export const loopUrl = (site: Site, id: string) => `${site.publicUrl}/l/${id}`;
export const embedUrl = (site: Site, id: string) => `${site.publicUrl}/embed/l/${id}`;
export const profileUrl = (site: Site, username: string) => `${site.publicUrl}/@${username}`;
export const oembedUrl = (site: Site, id: string) => `${site.publicUrl}/oembed?url=${encodeURIComponent(loopUrl(site, id))}&format=json`;

/** The picture a loop's link unfurls into, with its size when known (og:image:width, oEmbed's thumbnail). */
export type ShareImage = { url: string; width?: number; height?: number; card: boolean };

/**
 * The loop's share card (docs/architecture.md "Share cards") once its job has drawn it; until then the waveform PNG
 * (or, for a post that has no PNG yet either, the SVG, whose size is not fixed).
 */
export function shareImage(deps: { mediaUrl(key: string): string }, row: Pick<PostRow, "cardKey" | "waveformPngKey">, post: PostT): ShareImage {
  if (row.cardKey) return { url: deps.mediaUrl(row.cardKey), ...CARD_SIZE, card: true };
  if (row.waveformPngKey) return { url: post.waveform_url, width: DEFAULT_PNG_OPTIONS.width, height: DEFAULT_PNG_OPTIONS.height, card: false };
  return { url: post.waveform_url, card: false };
}

/** "8 bars · 92 BPM · A minor · by @mira". */
export const loopDescription = (post: PostT) => [...loopFacts(post), `by @${post.username}`].join(" · ");

export const loopTitle = (post: PostT) => post.filename || "Untitled loop";

/** ISO 8601 duration ("PT16S", "PT1M4.5S") for schema.org. */
export function isoDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds * 10) / 10);
  const m = Math.floor(s / 60);
  const rest = Math.round((s - m * 60) * 10) / 10;
  return `PT${m ? `${m}M` : ""}${rest || !m ? `${rest}S` : ""}`;
}

/** JSON for a <script type="application/ld+json">: `<`, `>` and `&` as \u escapes, so no `</script>` or comment
 *  opener can appear in it, and the line separators JavaScript once refused. */
export function jsonLd(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function Meta(p: { property?: string; name?: string; content: string | number }): JSX.Element {
  return p.property ? <meta property={p.property} content={String(p.content)} /> : <meta name={p.name} content={String(p.content)} />;
}

/** The loop page's head: Open Graph (music.song), Twitter player card, oEmbed discovery, JSON-LD MusicRecording. */
export function LoopShareHead(p: { post: PostT; image: ShareImage; site: Site }): JSX.Element {
  const { post, image, site } = p;
  const url = loopUrl(site, post.id);
  const title = loopTitle(post);
  const description = loopDescription(post);
  const musician = profileUrl(site, post.username);
  const seconds = Math.round(post.duration_seconds);
  const ld = {
    "@context": "https://schema.org",
    "@type": "MusicRecording",
    name: title,
    url,
    byArtist: { "@type": "Person", name: displayName(post), alternateName: `@${post.username}`, url: musician },
    duration: isoDuration(post.duration_seconds),
    datePublished: post.created_at,
    image: image.url,
    audio: { "@type": "AudioObject", contentUrl: post.mp3_url, encodingFormat: "audio/mpeg", duration: isoDuration(post.duration_seconds) },
    genre: post.genres,
    interactionStatistic: { "@type": "InteractionCounter", interactionType: "https://schema.org/ListenAction", userInteractionCount: post.play_count },
  };
  return (
    <>
      <link rel="canonical" href={url} />
      <Meta property="og:type" content="music.song" />
      <Meta property="og:title" content={title} />
      <Meta property="og:description" content={description} />
      <Meta property="og:url" content={url} />
      <Meta property="og:site_name" content={site.name} />
      <Meta property="og:image" content={image.url} />
      <Meta property="og:image:type" content={image.url.endsWith(".svg") ? "image/svg+xml" : "image/png"} />
      {image.width ? <Meta property="og:image:width" content={image.width} /> : ""}
      {image.height ? <Meta property="og:image:height" content={image.height} /> : ""}
      <Meta property="og:image:alt" content={image.card ? `${title}: ${description}, with its waveform` : `Waveform of ${title}`} />
      <Meta property="og:audio" content={post.mp3_url} />
      <Meta property="og:audio:type" content="audio/mpeg" />
      <Meta property="music:duration" content={seconds} />
      <Meta property="music:musician" content={musician} />
      <Meta name="twitter:card" content="player" />
      <Meta name="twitter:title" content={title} />
      <Meta name="twitter:description" content={description} />
      <Meta name="twitter:image" content={image.url} />
      <Meta name="twitter:player" content={embedUrl(site, post.id)} />
      <Meta name="twitter:player:width" content={EMBED_SIZE.width} />
      <Meta name="twitter:player:height" content={EMBED_SIZE.height} />
      <link rel="alternate" type="application/json+oembed" href={oembedUrl(site, post.id)} title={title} />
      <script type="application/ld+json">{jsonLd(ld) as "safe"}</script>
    </>
  ) as JSX.Element;
}

/** The profile's head: Open Graph (profile), a summary card, and the producer's RSS feed. */
export function ProfileShareHead(p: { user: PublicUserT; site: Site }): JSX.Element {
  const { user, site } = p;
  const url = profileUrl(site, user.username);
  const name = user.display_name || user.username;
  const loops = `${user.post_count} ${user.post_count === 1 ? "loop" : "loops"}`;
  const description = user.bio ? user.bio.slice(0, 200) : `${loops} by @${user.username} on ${site.name}`;
  return (
    <>
      <link rel="canonical" href={url} />
      <Meta property="og:type" content="profile" />
      <Meta property="og:title" content={`${name} (@${user.username})`} />
      <Meta property="og:description" content={description} />
      <Meta property="og:url" content={url} />
      <Meta property="og:site_name" content={site.name} />
      {user.avatar_url ? <Meta property="og:image" content={user.avatar_url} /> : ""}
      <Meta property="profile:username" content={user.username} />
      <Meta name="twitter:card" content="summary" />
      <link rel="alternate" type="application/rss+xml" href={`${url}/feed.rss`} title={`Loops by @${user.username}`} />
    </>
  ) as JSX.Element;
}

/** The instance's RSS feed, for the home page's head. */
export function SiteFeedLink(p: { site: Site }): JSX.Element {
  return (<link rel="alternate" type="application/rss+xml" href={`${p.site.publicUrl}/feed.rss`} title={`Latest loops on ${p.site.name}`} />) as JSX.Element;
}

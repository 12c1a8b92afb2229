// What the features keep in memory between requests: `deps.caches`, built once per process by buildDeps
// (src/index.ts) and by nothing else, so the composition root shows all of it. Each part is bounded and exact (a
// value is reused only while it is still true, see src/db/read-cache.ts), so a test that builds fresh deps starts
// from empty caches. Types only, in a leaf module: src/deps.ts re-exports `Caches`, and the features that fill the
// caches import their value types from here (a feature module imports deps.ts, so deps.ts cannot import it).
//
// Not here, because each is a memo of a value derived from one object and lives exactly as long as that object
// (an entry of these caches, or a request): the JSON of a cached post or page (social/feed-routes.ts), the public
// post a viewer's copy was made from and the copies made from a cached page (posts/enrich.ts), and per-request
// metadata keyed by the Request (http/observe.ts, http/client-ip.ts). The verified-token memo (auth/tokens.ts) is
// one of a pure function of the secret and the token.
import type { ReadCache } from "./db/read-cache.ts";
import type { sessions, users } from "./db/schema.ts";
import type { Lru } from "./lib/lru.ts";

/** A statement prepared once (drizzle's `.prepare()`) that reads the rows with one id. */
export type PreparedById<R> = { all(p: { id: string }): R[] | Promise<R[]> };

export type SessionWithUser = { session: typeof sessions.$inferSelect; user: typeof users.$inferSelect };

/**
 * The viewer's reactions on a page's posts (post id → emoji), which of its authors the viewer follows, and which of
 * them are hidden from the viewer: blocked (either way) or muted (README "Blocking and muting").
 */
export type ViewerState = {
  mine: ReadonlyMap<string, string>;
  followed: ReadonlySet<string>;
  blocked: ReadonlySet<string>;
  muted: ReadonlySet<string>;
  /** The page's posts the viewer saved (social/saves.ts). */
  saved: ReadonlySet<string>;
  /** The page's posts the viewer reposted (social/reposts.ts). */
  reposted: ReadonlySet<string>;
};

/** A trending candidate: a ready post of the window and its counters (social/feed-queries.ts). */
export type Candidate = { id: string; user_id: string; created_at: number; like_count: number; play_count: number };
export type Ranked = { id: string; userId: string; score: number };
/** The candidates loaded at `at`, and the few rankings computed from them, by reference time t0 (social/feeds.ts). */
export type TrendingSnapshot = { at: number; candidates: Candidate[]; rankings: Lru<number, Ranked[]> };

/** Who may create an account (system/settings.ts). */
export type RegistrationMode = "open" | "invite" | "approval" | "closed";
/** The community's settings as the features read them (system/settings.ts). */
export type Settings = {
  name: string;
  description: string;
  rules: string;
  contact: string;
  registration: RegistrationMode;
  members_invite: boolean;
  sign_in_to_view: boolean;
  upload_quota_per_day: number;
  upload_quota_mb: number;
  approval_queue_limit: number;
};

/** Entries of Caches.mediaGzip: a peaks JSON gzips to ~4 KB, so a few MB at most. */
export const MEDIA_GZIP_ENTRIES = 1024;

export type Caches = {
  /** The user of an id (the guard reads it on every authenticated request; users/service.ts), prepared once. */
  userById: PreparedById<typeof users.$inferSelect>;
  /** A session with its user in one statement (auth/sessions.ts), prepared once. */
  sessionWithUser: PreparedById<SessionWithUser>;
  /** The session and user behind each access token, while the database is unchanged (auth/sessions.ts). */
  sessions: ReadCache<Readonly<SessionWithUser> | null>;
  /** Feed pages as anyone sees them (social/feeds.ts). */
  feedPages: ReadCache<unknown>;
  /** Search pages as anyone sees them (search/service.ts), apart from the feeds' so searches never evict feed pages. */
  searchPages: ReadCache<unknown>;
  /** Loops' comment pages as anyone sees them, and the viewer's blocks and likes beside them (social/comments.ts). */
  commentPages: ReadCache<unknown>;
  /** Discover's pages and producer lists as anyone (or one viewer) sees them (discover/service.ts), apart likewise. */
  discoverPages: ReadCache<unknown>;
  /** A viewer's reactions and follows on a page (posts/enrich.ts). */
  viewerStates: ReadCache<ViewerState>;
  /** Web app pages as an anonymous visitor sees them, rendered (web/app-routes.tsx). */
  pages: ReadCache<string>;
  /** Those pages gzipped, keyed by the cached string (web/html.ts), for the browsers that accept it. */
  pageGzip: Lru<string, Uint8Array<ArrayBuffer>>;
  /** Stored JSON and SVG objects gzipped, by key and etag (media/routes.ts): peaks and waveforms the pages fetch. */
  mediaGzip: Lru<string, Uint8Array<ArrayBuffer>>;
  /**
   * The community's settings as pages show them (name, description, rules, whether sign-up is open): one object per
   * process, refreshed from the settings before every page request (web/instance.ts), so route files may hold it and
   * read it while rendering.
   */
  instance: Settings;
  /** The community's settings (system/settings.ts), while the database is unchanged. */
  settings: ReadCache<Readonly<Settings>>;
  /** The current trending candidates (recomputed at most every TRENDING.cacheMs) and the load in flight. */
  trending: { current?: TrendingSnapshot; pending?: Promise<TrendingSnapshot> };
};

// How every page of the web app is answered (docs/security.md "Web app"): HTML with a strict Content-Security-Policy
// (scripts and styles from this origin only, never inline; media from this origin and the storage's), no framing
// except the embed player's route, nosniff, and a cache policy that keeps a signed-in page out of shared caches.
import type { Config } from "../config.ts";
import type { Deps } from "../deps.ts";

export type CachePolicy = "no-store" | "private" | "public";

export type HtmlOptions = {
  status?: number;
  /** "public": an anonymous page, shared caches may keep it briefly; "private": a signed-in page; "no-store": forms, tokens. */
  cache?: CachePolicy;
  /** The embed player may be framed by any site (frame-ancestors *); every other page refuses frames. */
  frameable?: boolean;
  /** Pages whose URL carries a secret (mail links) send no Referer at all. */
  noReferrer?: boolean;
  headers?: Record<string, string>;
  /** Part of a page (the cards the client script appends): no doctype. */
  fragment?: boolean;
  /** With cache "public" (a page from deps.caches.pages, the same string each time): answered gzipped when the
   *  request accepts it, compressed once per page (deps.caches.pageGzip). */
  request?: Request;
};

const origin = (url: string | undefined) => {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
};

/** Where media may come from: this server (local storage, /media/ redirects) and, with S3, the CDN or the bucket
 *  (presigned URLs, path-style and virtual-hosted). */
export function mediaOrigins(config: Pick<Config, "PUBLIC_URL" | "STORAGE" | "CDN_BASE_URL" | "S3_ENDPOINT" | "S3_BUCKET" | "S3_REGION">): string[] {
  const out = new Set<string>([origin(config.PUBLIC_URL)!].filter(Boolean));
  if (config.STORAGE === "s3") {
    const cdn = origin(config.CDN_BASE_URL);
    if (cdn) out.add(cdn);
    const endpoint = config.S3_ENDPOINT ? new URL(config.S3_ENDPOINT) : new URL(`https://s3.${config.S3_REGION}.amazonaws.com`);
    out.add(endpoint.origin);
    if (config.S3_BUCKET) out.add(`${endpoint.protocol}//${config.S3_BUCKET}.${endpoint.host}`);
  }
  return [...out];
}

/** The page CSP for a server whose media and WebSocket live at these origins. */
export function pageCsp(media: string[], wsOrigin: string, frameable: boolean): string {
  const m = ["'self'", ...media].join(" ");
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: ${media.join(" ")}`.trim(),
    `media-src ${m}`,
    `connect-src 'self' ${wsOrigin} ${media.join(" ")}`.trim(),
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "manifest-src 'self'",
    `frame-ancestors ${frameable ? "*" : "'none'"}`,
  ].join("; ");
}

const CACHE: Record<CachePolicy, string> = {
  "no-store": "no-store",
  private: "private, no-cache",
  public: "public, max-age=30",
};

/** Builds page responses for one configuration (CSP origins worked out once). */
export function htmlResponder(deps: Pick<Deps, "config" | "caches">) {
  const { config } = deps;
  const media = mediaOrigins(config);
  const ws = origin(config.PUBLIC_URL)!.replace(/^http/, "ws");
  const csp = pageCsp(media, ws, false);
  const embedCsp = pageCsp(media, ws, true);
  return (html: string, opts: HtmlOptions = {}): Response => {
    const text = opts.fragment ? html : `<!doctype html>${html}`;
    const shared = opts.cache === "public";
    let body: string | Uint8Array<ArrayBuffer> = text;
    if (shared && /\bgzip\b/.test(opts.request?.headers.get("accept-encoding") ?? "")) {
      // Keyed by the cached page's string itself: one compression per page, the lookup a pointer comparison.
      let gz = deps.caches.pageGzip.get(html);
      if (!gz) deps.caches.pageGzip.set(html, (gz = Bun.gzipSync(text, { level: 6 })));
      body = gz;
    }
    return new Response(body, {
      status: opts.status ?? 200,
      headers: {
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": opts.frameable ? embedCsp : csp,
        ...(opts.frameable ? {} : { "x-frame-options": "DENY" }),
        "referrer-policy": opts.noReferrer ? "no-referrer" : "strict-origin-when-cross-origin",
        "x-content-type-options": "nosniff",
        "cache-control": CACHE[opts.cache ?? "private"],
        // The same URL is another page once signed in: caches keep one copy per cookie (and per encoding).
        vary: shared ? "cookie, accept-encoding" : "cookie",
        ...(typeof body === "string" ? {} : { "content-encoding": "gzip" }),
        ...opts.headers,
      },
    });
  };
}
export type HtmlResponder = ReturnType<typeof htmlResponder>;

/** How many rendered anonymous pages deps.caches.pages keeps (a page is a few KB; web/app-routes.tsx). */
export const PAGE_CACHE_ENTRIES = 256;

/** Route options of a page or file: kept out of the OpenAPI document (HTML for people, not API). */
export const HIDDEN = { detail: { hide: true } } as const;

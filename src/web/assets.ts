// The web app's static files, all carried by the binary (docs/architecture.md "Web app"):
//   /assets/app-<hash>.js, /assets/app-<hash>.css   the client bundle and the stylesheet, inlined at transpile time
//                                                  by assets.macro.ts; content-hashed names, cached for a year
//   /icons/icon-<size>.png, /icons/maskable-512.png, /favicon.svg, /favicon.ico   the app icon, drawn at start
//   /manifest.webmanifest                           installs the web app on phones (name from INSTANCE_NAME)
//   /robots.txt                                     crawlers may read public pages, not accounts or actions
// Text assets are gzipped once at start and served compressed to browsers that accept it.
import { Elysia } from "elysia";
import { encodePng } from "../audio/png.ts";
import type { Deps } from "../deps.ts";
import { clientAssets } from "./assets.macro.ts" with { type: "macro" };
import { HIDDEN } from "./html.ts";

export type Asset = { path: string; type: string; body: Uint8Array; gzip?: Uint8Array; immutable: boolean };

const built = clientAssets();

function textAsset(name: string, ext: string, type: string, text: string, hashed: boolean): Asset {
  const body = new TextEncoder().encode(text);
  const hash = Bun.hash(body).toString(36).slice(0, 10);
  return { path: hashed ? `/assets/${name}-${hash}.${ext}` : `/${name}.${ext}`, type, body, gzip: Bun.gzipSync(body, { level: 9 }), immutable: hashed };
}

export const SCRIPT = textAsset("app", "js", "text/javascript; charset=utf-8", built.js, true);
export const STYLESHEET = textAsset("app", "css", "text/css; charset=utf-8", built.css, true);

/** The logo: five waveform bars. Also the favicon (SVG) and the base of the PNG icons. */
const BARS = [0.35, 0.7, 1, 0.55, 0.8];
const LOGO_BARS = BARS.map((h, i) => `<rect x="${5 + i * 4.8}" y="${16 - h * 9}" width="3" height="${h * 18}" rx="1.5" fill="#fff"/>`).join("");
const LOGO_SQUARE = `<rect width="32" height="32" rx="8" fill="#5b3ee6"/>`;
export const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32" aria-hidden="true">${LOGO_SQUARE}${LOGO_BARS}</svg>`;

/** The icon as a PNG: the accent square (rounded unless `maskable`, where the platform cuts its own shape) and
 *  white bars inside the maskable safe zone (the middle 80 %). */
export function iconPng(size: number, maskable = false): Uint8Array {
  const rgba = new Uint8Array(size * size * 4);
  const radius = maskable ? 0 : size * 0.22;
  const inside = (x: number, y: number) => {
    const cx = Math.min(Math.max(x, radius), size - radius);
    const cy = Math.min(Math.max(y, radius), size - radius);
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius * radius;
  };
  const zone = maskable ? 0.6 : 0.72;
  const barW = (size * zone) / (BARS.length * 1.6);
  const left = (size - barW * (BARS.length * 1.6 - 0.6)) / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 4;
      if (!inside(x + 0.5, y + 0.5)) continue;
      const bar = Math.floor((x - left) / (barW * 1.6));
      const inBar = bar >= 0 && bar < BARS.length && x - left - bar * barW * 1.6 < barW;
      const half = inBar ? (BARS[bar]! * size * zone) / 2 : 0;
      const white = inBar && Math.abs(y + 0.5 - size / 2) <= half;
      rgba.set(white ? [255, 255, 255, 255] : [0x5b, 0x3e, 0xe6, 255], o);
    }
  }
  return encodePng(size, size, rgba);
}

/** The icons are the same for every server and drawn only when first asked for (drawing the five takes ~50 ms,
 *  which every start and every test's app would otherwise pay): a memo of a pure function of the size. */
const drawn = new Map<string, Uint8Array>();
function icon(path: string, size: number, maskable = false): Asset {
  return {
    path,
    type: "image/png",
    immutable: false,
    get body() {
      let png = drawn.get(path);
      if (!png) drawn.set(path, (png = iconPng(size, maskable)));
      return png;
    },
  };
}

/** Every static file of the web app, by path, built once per process. */
export function webAssets(deps: Pick<Deps, "config">): Map<string, Asset> {
  const { INSTANCE_NAME, INSTANCE_DESCRIPTION } = deps.config;
  const manifest = {
    name: INSTANCE_NAME,
    short_name: INSTANCE_NAME.slice(0, 12),
    description: INSTANCE_DESCRIPTION,
    start_url: "/",
    scope: "/",
    display: "standalone",
    background_color: "#111318",
    theme_color: "#5b3ee6",
    icons: [
      { src: "/icons/icon-192.png", sizes: "192x192", type: "image/png" },
      { src: "/icons/icon-512.png", sizes: "512x512", type: "image/png" },
      { src: "/icons/maskable-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
    ],
  };
  const robots = ["User-agent: *", "Disallow: /settings", "Disallow: /upload", "Disallow: /notifications", "Disallow: /api/", "Allow: /", ""].join("\n");
  const all = [
    SCRIPT,
    STYLESHEET,
    textAsset("manifest", "webmanifest", "application/manifest+json", JSON.stringify(manifest), false),
    textAsset("robots", "txt", "text/plain; charset=utf-8", robots, false),
    textAsset("favicon", "svg", "image/svg+xml", LOGO_SVG, false),
    icon("/icons/icon-192.png", 192),
    icon("/icons/icon-512.png", 512),
    icon("/icons/maskable-512.png", 512, true),
    icon("/icons/apple-touch-icon.png", 180, true),
    // Browsers ask for /favicon.ico whatever the page links; a PNG there is read by all of them.
    icon("/favicon.ico", 32),
  ];
  return new Map(all.map((a) => [a.path, a]));
}

/** Answers an asset: gzip when the browser takes it, a year of caching for hashed names, a day for the others. */
export function assetResponse(asset: Asset, request: Request): Response {
  const gzip = asset.gzip && /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "");
  const body = gzip ? asset.gzip! : asset.body;
  return new Response(request.method === "HEAD" ? null : (body as Uint8Array<ArrayBuffer>), {
    headers: {
      "content-type": asset.type,
      "content-length": String(body.length),
      "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "public, max-age=86400",
      "x-content-type-options": "nosniff",
      vary: "accept-encoding",
      ...(gzip ? { "content-encoding": "gzip" } : {}),
    },
  });
}

/** GET routes for every asset (hidden from the API document: files, not API). */
export const assetRoutes = (deps: Pick<Deps, "config">) => {
  const assets = webAssets(deps);
  const serve = ({ request, path }: { request: Request; path: string }) => {
    const asset = assets.get(path);
    return asset ? assetResponse(asset, request) : new Response("Not found", { status: 404, headers: { "content-type": "text/plain" } });
  };
  return new Elysia({ name: "web-assets" })
    .get("/assets/:file", serve, HIDDEN)
    .get("/icons/:file", serve, HIDDEN)
    .get("/manifest.webmanifest", serve, HIDDEN)
    .get("/robots.txt", serve, HIDDEN)
    .get("/favicon.svg", serve, HIDDEN)
    .get("/favicon.ico", serve, HIDDEN);
};

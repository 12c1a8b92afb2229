// The frame of every web app page (docs/architecture.md "Web app"): head (title, description, share metadata, the
// one stylesheet and the one script), a skip link, the header with the instance's name and the signed-in
// viewer's links, <main>, the persistent player bar outside <main> (client navigation swaps <main> only, so a
// loop keeps playing across pages), and the footer. Templates are @kitajs/html JSX: attributes are escaped, and
// text that carries data is marked `safe` (CI's xss-scan refuses anything else).
import type { Children } from "@kitajs/html";
import { LOGO_SVG, SCRIPT, STYLESHEET } from "./assets.ts";

export type Viewer = { id: string; username: string; displayName: string; avatarUrl: string; unseen: number; staff?: boolean } | null;

export type ShellProps = {
  title: string;
  instance: { name: string; description: string };
  viewer: Viewer;
  /** The page's path, for aria-current in the header. */
  path: string;
  description?: string;
  /** Extra head elements (share metadata, alternate links, JSON-LD), already rendered. */
  head?: string;
  /** Signed in: the CSRF token, in <meta name="csrf-token"> for the script's writes (the cookie is HttpOnly). */
  csrf?: string;
  /** A narrow column (forms). */
  narrow?: boolean;
  /** The account pages (web/layout.ts page()): no script and no skip link, so their strict CSP loads nothing to run. */
  scriptless?: boolean;
  children?: Children;
};

const current = (path: string, href: string) => (path === href ? "page" : undefined);

export function Shell(p: ShellProps): JSX.Element {
  const title = p.title === p.instance.name ? p.title : `${p.title} · ${p.instance.name}`;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1,viewport-fit=cover" />
        <title safe>{title}</title>
        <meta name="description" content={p.description ?? p.instance.description} />
        <meta name="theme-color" content="#5b3ee6" />
        <link rel="stylesheet" href={STYLESHEET.path} />
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
        <link rel="apple-touch-icon" href="/icons/apple-touch-icon.png" />
        <link rel="manifest" href="/manifest.webmanifest" />
        {p.scriptless ? "" : <script type="module" src={SCRIPT.path} />}
        {p.csrf ? <meta name="csrf-token" content={p.csrf} /> : ""}
        {p.head as "safe"}
      </head>
      <body>
        {p.scriptless ? (
          ""
        ) : (
          <a class="skip" href="#main">
            Skip to content
          </a>
        )}
        <header class="top">
          <nav aria-label="Main" class={p.viewer ? "signed-in" : undefined}>
            <a class="brand" href="/" aria-label={`${p.instance.name}, home`}>
              {LOGO_SVG as "safe"}
              <span safe>{p.instance.name}</span>
            </a>
            <a class="navlink" href="/search" aria-current={current(p.path, "/search")}>
              <span class="nav-icon" aria-hidden="true">
                🔍
              </span>
              <span class="nav-text">Search</span>
            </a>
            <a class="navlink" href="/discover" aria-current={current(p.path, "/discover")}>
              <span class="nav-icon" aria-hidden="true">
                🧭
              </span>
              <span class="nav-text">Discover</span>
            </a>
            {p.viewer ? (
              <>
                <a class="navlink" href="/upload" aria-current={current(p.path, "/upload")}>
                  <span class="nav-icon" aria-hidden="true">
                    ⬆
                  </span>
                  <span class="nav-text">Upload</span>
                </a>
                {/* Named by its text, not aria-label, so the visible unseen count is part of the name (axe label-content-name-mismatch). */}
                <a class="navlink" href="/notifications" aria-current={current(p.path, "/notifications")}>
                  <span aria-hidden="true">🔔</span>
                  <span class="visually-hidden">Notifications</span>
                  <span class="badge" data-notif-badge hidden={p.viewer.unseen === 0}>
                    {p.viewer.unseen}
                  </span>
                </a>
                {p.viewer.staff ? (
                  <a class="navlink" href="/admin" aria-current={p.path.startsWith("/admin") ? "page" : undefined}>
                    <span aria-hidden="true">🛡</span>
                    <span class="visually-hidden">Admin</span>
                  </a>
                ) : (
                  ""
                )}
                <a class="navlink" href="/settings" aria-current={current(p.path, "/settings")}>
                  <span aria-hidden="true">⚙</span>
                  <span class="visually-hidden">Settings</span>
                </a>
                <a class="navlink" href={`/@${p.viewer.username}`} aria-current={current(p.path, `/@${p.viewer.username}`)} aria-label="Your profile">
                  <Avatar url={p.viewer.avatarUrl} name={p.viewer.displayName || p.viewer.username} small />
                </a>
              </>
            ) : (
              <>
                <a class="navlink" href="/signin" aria-current={current(p.path, "/signin")}>
                  Sign in
                </a>
                <a class="button" href="/register">
                  Join
                </a>
              </>
            )}
          </nav>
        </header>
        <main id="main" class={p.narrow ? "narrow" : undefined} data-path={p.path}>
          {p.children as "safe"}
        </main>
        <div class="player-bar" data-player-bar hidden />
        <footer>
          <span safe>{p.instance.name}</span> · <a href="/docs">API</a> · <a href="/feed.rss">RSS</a>
        </footer>
      </body>
    </html>
  ) as JSX.Element;
}

/** A round avatar: the picture, or the name's first letter on a tinted disc. Decorative next to the name. */
export function Avatar(p: { url: string; name: string; small?: boolean; large?: boolean }): JSX.Element {
  const cls = `avatar${p.large ? " large" : ""}`;
  const size = p.large ? 88 : p.small ? 32 : 40;
  return p.url ? (
    <img class={cls} src={p.url} alt="" width={String(size)} height={String(size)} loading="lazy" decoding="async" />
  ) : (
    <span class={cls} aria-hidden="true" safe>
      {[...p.name.trim()][0]?.toUpperCase() ?? "?"}
    </span>
  );
}

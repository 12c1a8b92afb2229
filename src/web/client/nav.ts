// Client-side navigation (docs/architecture.md "Web app"): a same-origin link click or GET form fetches the next
// page, swaps <main> and the title, and pushes the URL, so the player bar (outside <main>) keeps playing. Anything
// unusual (modifier keys, another target, downloads, the API, media, non-HTML or non-2xx answers) is a normal
// navigation. Other modules register page enhancers with onPage(): they run on first load and after every swap.

type PageCallback = (root: HTMLElement) => void;
const callbacks: PageCallback[] = [];

const main = () => document.querySelector<HTMLElement>("main#main");

/** Runs `callback` for the current page now and for every page client navigation shows later. */
export function onPage(callback: PageCallback): void {
  callbacks.push(callback);
  const m = main();
  if (m) callback(m);
}

function runCallbacks(root: HTMLElement) {
  for (const cb of callbacks) {
    try {
      cb(root);
    } catch (err) {
      console.warn("page enhancer failed", err);
    }
  }
}

const SKIP = /^\/(api|media|assets|docs|embed|signout)(\/|$)/;

/** The URL client navigation may fetch, or null when the browser should navigate itself. */
export function navigable(href: string): URL | null {
  let url: URL;
  try {
    url = new URL(href, location.href);
  } catch {
    return null;
  }
  if (url.origin !== location.origin) return null;
  if (SKIP.test(url.pathname) || /\.(rss|xml|json|txt|png|mp3|ogg|wav|svg|webmanifest)$/.test(url.pathname)) return null;
  return url;
}

let controller: AbortController | null = null;

async function go(url: URL, push: boolean): Promise<void> {
  // Only the hash changed: let the browser scroll.
  if (push && url.pathname === location.pathname && url.search === location.search && url.hash) {
    location.hash = url.hash;
    return;
  }
  controller?.abort();
  controller = new AbortController();
  let res: Response;
  try {
    res = await fetch(url.href, { headers: { accept: "text/html" }, credentials: "same-origin", signal: controller.signal });
  } catch (err) {
    if ((err as Error).name === "AbortError") return;
    location.assign(url.href);
    return;
  }
  const type = res.headers.get("content-type") ?? "";
  if (!res.ok || !type.startsWith("text/html")) {
    location.assign(url.href);
    return;
  }
  const doc = new DOMParser().parseFromString(await res.text(), "text/html");
  const next = doc.querySelector<HTMLElement>("main#main");
  const current = main();
  if (!next || !current) {
    location.assign(url.href);
    return;
  }
  // A redirect (e.g. to the sign-in page) lands on its own URL.
  const final = new URL(res.url || url.href);
  final.hash = url.hash;
  if (push) history.pushState({ nav: 1 }, "", final.href);
  const adopted = document.importNode(next, true);
  current.replaceWith(adopted);
  document.title = doc.title;
  syncHead(doc);
  const target = url.hash ? document.getElementById(decodeURIComponent(url.hash.slice(1))) : null;
  if (target) target.scrollIntoView();
  else if (push) window.scrollTo(0, 0);
  const h1 = adopted.querySelector<HTMLElement>("h1");
  if (h1) {
    h1.tabIndex = -1;
    h1.focus({ preventScroll: true });
  }
  runCallbacks(adopted);
}

/** Keeps the header's current-page marks and the CSRF token in step with the new page. */
function syncHead(doc: Document) {
  const token = doc.querySelector<HTMLMetaElement>('meta[name="csrf-token"]');
  const mine = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]');
  if (token && mine) mine.content = token.content;
  // The header stays (other modules hold its elements): only its "you are here" marks follow the page.
  const marked = new Set(Array.from(doc.querySelectorAll("header.top a[aria-current]")).map((a) => a.getAttribute("href")));
  for (const a of Array.from(document.querySelectorAll("header.top a[href]"))) {
    if (marked.has(a.getAttribute("href"))) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function onClick(e: MouseEvent) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.("a");
  if (!a?.href || a.hasAttribute("download") || (a.target && a.target !== "_self") || a.hasAttribute("data-no-nav")) return;
  if (a.getAttribute("href")?.startsWith("#")) return;
  const url = navigable(a.href);
  if (!url) return;
  e.preventDefault();
  void go(url, true);
}

function onSubmit(e: SubmitEvent) {
  if (e.defaultPrevented) return;
  const form = e.target as HTMLFormElement;
  if (!(form instanceof HTMLFormElement) || (form.method || "get").toLowerCase() !== "get" || (form.target && form.target !== "_self")) return;
  const url = navigable(form.action || location.href);
  if (!url) return;
  const data = new FormData(form, e.submitter ?? undefined);
  url.search = new URLSearchParams(Array.from(data.entries()).filter((p): p is [string, string] => typeof p[1] === "string")).toString();
  e.preventDefault();
  void go(url, true);
}

export function startNav(): void {
  if (!main() || !window.history?.pushState || !window.DOMParser) return;
  history.replaceState({ nav: 1 }, "", location.href);
  document.addEventListener("click", onClick);
  document.addEventListener("submit", onSubmit);
  window.addEventListener("popstate", (e) => {
    if (e.state?.nav) void go(new URL(location.href), false);
  });
}

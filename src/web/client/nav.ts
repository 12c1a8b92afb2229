// Client-side navigation (docs/architecture.md "Web app"): a same-origin link click or GET form fetches the next
// page, swaps <main> and the title, and pushes the URL, so the player bar (outside <main>) keeps playing. Anything
// unusual (modifier keys, another target, downloads, the API, media, non-HTML or non-2xx answers) is a normal
// navigation. Other modules register page enhancers with onPage(): they run on first load and after every swap.
// Back and forward put the page back as it was left: its <main> (with every loop "More loops" added, waveforms
// drawn) and its scroll position are kept for the last KEPT history entries; older ones are fetched again.

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

/** Pages left, by history entry: their <main> node as it was, title, header marks and scroll position. */
type Kept = { main: HTMLElement; title: string; marked: Set<string | null>; y: number };
const KEPT = 20;
const kept = new Map<number, Kept>();
/** This document's history entries are numbered in the order they were made; `entry` is the one shown. */
let entry = 0;
let nextEntry = 1;

/** Remembers the page being left (its node leaves the document, untouched) under its history entry. */
function keep(current: HTMLElement) {
  const marked = new Set(Array.from(document.querySelectorAll("header.top a[aria-current]")).map((a) => a.getAttribute("href")));
  kept.delete(entry);
  kept.set(entry, { main: current, title: document.title, marked, y: window.scrollY });
  while (kept.size > KEPT) kept.delete(kept.keys().next().value!);
}

/** Shows a kept page again, where it was scrolled to. */
function restore(to: number, page: Kept) {
  const current = main();
  if (!current) return;
  keep(current);
  kept.delete(to);
  entry = to;
  current.replaceWith(page.main);
  document.title = page.title;
  markHeader(page.marked);
  window.scrollTo(0, page.y);
  runCallbacks(page.main);
}

let controller: AbortController | null = null;

async function go(url: URL, push: boolean, to?: number): Promise<void> {
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
  keep(current);
  if (push) {
    entry = nextEntry++;
    history.pushState({ nav: 1, entry }, "", final.href);
  } else if (to !== undefined) entry = to;
  const adopted = document.importNode(next, true);
  current.replaceWith(adopted);
  document.title = doc.title;
  syncHead(doc);
  const target = url.hash ? document.getElementById(decodeURIComponent(url.hash.slice(1))) : null;
  if (target) target.scrollIntoView();
  else window.scrollTo(0, 0);
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
  markHeader(new Set(Array.from(doc.querySelectorAll("header.top a[aria-current]")).map((a) => a.getAttribute("href"))));
}

function markHeader(marked: Set<string | null>) {
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

/** sessionStorage, which a browser may refuse (privacy modes): then nothing is remembered across reloads. */
function stored(key: string, value?: string): string | null {
  try {
    if (value !== undefined) sessionStorage.setItem(key, value);
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

export function startNav(): void {
  if (!main() || !window.history?.pushState || !window.DOMParser) return;
  // Entries of an earlier visit (a reload) may carry numbers of their own: start above them.
  const previous = Number(history.state?.entry);
  entry = Number.isInteger(previous) ? previous : 0;
  nextEntry = Math.max(entry, Number(stored("sc:nav-next")) || 0) + 1;
  history.replaceState({ nav: 1, entry }, "", location.href);
  // The scroll position is ours to restore (the browser's own would act before the page is swapped back).
  if ("scrollRestoration" in history) history.scrollRestoration = "manual";
  document.addEventListener("click", onClick);
  document.addEventListener("submit", onSubmit);
  window.addEventListener("pagehide", () => stored("sc:nav-next", String(nextEntry)));
  window.addEventListener("popstate", (e) => {
    if (!e.state?.nav) return;
    const to = Number(e.state.entry);
    const page = kept.get(to);
    if (page) restore(to, page);
    else void go(new URL(location.href), false, Number.isInteger(to) ? to : undefined);
  });
}

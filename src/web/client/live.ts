// Live updates on signed-in pages (docs/architecture.md "Web app"; the frames are in docs/plugin-contract.md
// "WebSocket"). The page asks POST /web/ws-token for a single-use ticket (the session cookie is HttpOnly and the hub
// never reads it), opens the WebSocket with it, and updates the page in place:
//   new_post                 a "N new loops" button at the top of the timeline; clicking it reloads the feed's cards
//   post_liked/post_unliked  the counts of [data-reactions="{post id}"] (and [data-likes="{post id}"])
//   presence                 the class of every [data-presence="{user id}"] dot
//   notification             the header's [data-notif-badge] counts up
// Reactions reach only users "shown" the post, so the page sends `watch` frames with the ids of the loops on it,
// after connecting and whenever new cards appear. It reconnects with exponential backoff (1 s to 30 s, a new ticket
// each time), sends a heartbeat every 30 s, and lets the socket go while the page stays hidden for long.

type Frame = { type?: string; payload?: Record<string, unknown>; user_id?: unknown; status?: unknown };

const WS_PATH = "/api/v1/ws";
const HEARTBEAT_MS = 30_000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
/** A page hidden this long lets its socket go until it is shown again. */
const HIDDEN_PAUSE_MS = 5 * 60_000;
/** The hub forgets a watch after 15 minutes (WS_WATCH_TTL_MS): the page says it again before that. */
const REWATCH_MS = 10 * 60_000;
/** Post ids per watch frame (the hub takes at most 100 from one). */
const WATCH_CHUNK = 100;
/** Close codes after which the same session cannot connect again (4001: the session ended). */
const FINAL_CLOSE = new Set([4001]);

/** Loops announced but not on the page yet, per "new loops" button (a new page has a new button, and starts at 0). */
const pending = new WeakMap<Element, Set<string>>();

function startLive() {
  const csrf = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content;
  // Signed-in pages only: they carry the CSRF token and the notifications badge.
  if (!csrf || !document.querySelector("[data-notif-badge]") || typeof WebSocket === "undefined") return;

  let socket: WebSocket | null = null;
  let connecting = false;
  let stopped = false;
  let paused = false;
  let attempt = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let hiddenSince: ReturnType<typeof setTimeout> | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let rewatch: ReturnType<typeof setInterval> | undefined;
  let watched = new Set<string>();

  const send = (type: string, payload: Record<string, unknown> = {}) => {
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type, payload, timestamp: Date.now() }));
  };

  /** Watches the loops on the page that this connection has not watched yet. */
  function watchPage() {
    const ids = new Set<string>();
    document.querySelectorAll<HTMLElement>("[data-reactions], [data-likes]").forEach((el) => {
      const id = el.dataset.reactions || el.dataset.likes;
      if (id && !watched.has(id)) ids.add(id);
    });
    const fresh = [...ids];
    for (let i = 0; i < fresh.length; i += WATCH_CHUNK) send("watch", { post_ids: fresh.slice(i, i + WATCH_CHUNK) });
    if (socket?.readyState === WebSocket.OPEN) for (const id of fresh) watched.add(id);
  }

  function schedule() {
    if (stopped || paused || retry) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
    attempt++;
    retry = setTimeout(
      () => {
        retry = undefined;
        void connect();
      },
      base * (0.8 + Math.random() * 0.4),
    );
  }

  async function connect() {
    if (stopped || paused || socket || connecting) return;
    connecting = true;
    let token = "";
    try {
      const res = await fetch("/web/ws-token", {
        method: "POST",
        credentials: "same-origin",
        headers: { accept: "application/json", "x-csrf-token": csrf as string },
      });
      // Signed out, or the page's form token is no longer the browser's: only a reload helps.
      if (res.status === 401 || res.status === 403) stopped = true;
      else if (res.ok) token = String(((await res.json()) as { token?: unknown }).token ?? "");
    } catch {
      // offline: try again later
    }
    connecting = false;
    if (!token) return schedule();
    if (paused || stopped) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${WS_PATH}?client=web&token=${encodeURIComponent(token)}`);
    socket = ws;
    ws.addEventListener("open", () => {
      attempt = 0;
      watched = new Set();
      watchPage();
      heartbeat = setInterval(() => send("heartbeat"), HEARTBEAT_MS);
      rewatch = setInterval(() => {
        watched = new Set();
        watchPage();
      }, REWATCH_MS);
    });
    ws.addEventListener("message", (e) => {
      if (typeof e.data !== "string") return;
      try {
        onFrame(JSON.parse(e.data) as Frame);
      } catch {
        // not ours to break on
      }
    });
    ws.addEventListener("close", (e) => {
      if (socket === ws) socket = null;
      clearInterval(heartbeat);
      clearInterval(rewatch);
      if (FINAL_CLOSE.has(e.code)) stopped = true;
      schedule();
    });
  }

  function pause() {
    paused = true;
    clearTimeout(retry);
    retry = undefined;
    socket?.close(1000, "page hidden");
  }

  document.addEventListener("visibilitychange", () => {
    clearTimeout(hiddenSince);
    if (document.visibilityState === "hidden") {
      hiddenSince = setTimeout(pause, HIDDEN_PAUSE_MS);
      return;
    }
    if (!paused) return;
    paused = false;
    attempt = 0;
    void connect();
  });

  // New cards (infinite scroll, client navigation, the feed reloaded): watch them too.
  let changed: ReturnType<typeof setTimeout> | undefined;
  new MutationObserver(() => {
    clearTimeout(changed);
    changed = setTimeout(watchPage, 200);
  }).observe(document.body, { childList: true, subtree: true });

  document.addEventListener("click", (e) => {
    const button = (e.target as Element | null)?.closest?.("[data-new-loops]");
    if (!button) return;
    e.preventDefault();
    void reloadFeed(button as HTMLButtonElement);
  });

  void connect();
}

function onFrame(f: Frame) {
  const p = f.payload ?? {};
  switch (f.type) {
    case "new_post":
      return newLoop(String(p.id ?? ""));
    case "post_liked":
    case "post_unliked":
      return counts(String(p.post_id ?? ""), p.reaction_counts as Record<string, unknown> | undefined, p.like_count);
    case "presence":
      return presence(String(f.user_id ?? p.user_id ?? ""), String(f.status ?? p.status ?? ""));
    case "notification":
      return badge();
  }
}

const byData = (name: string, value: string) => document.querySelectorAll<HTMLElement>(`[data-${name}="${CSS.escape(value)}"]`);

/** The timeline's "new loops" button, when the page shows the timeline. */
function timelineButton(): HTMLButtonElement | null {
  const onTimeline = document.querySelector('[data-feed="timeline"]') ?? document.querySelector('.tabs a[aria-current="page"][href="/?tab=timeline"]');
  return onTimeline ? document.querySelector<HTMLButtonElement>("[data-new-loops]") : null;
}

function newLoop(id: string) {
  const button = timelineButton();
  if (!id || !button || byData("post", id).length) return;
  let ids = pending.get(button);
  if (!ids) pending.set(button, (ids = new Set()));
  ids.add(id);
  button.textContent = `${ids.size} new ${ids.size === 1 ? "loop" : "loops"}`;
  button.hidden = false;
}

/** The timeline's first page again, in place of the feed's cards (the whole page when there is no list yet). */
async function reloadFeed(button: HTMLButtonElement) {
  const feed = document.querySelector<HTMLElement>("[data-feed]");
  const url = new URL(location.href);
  url.searchParams.delete("cursor");
  try {
    if (!feed) throw new Error("no feed on the page");
    button.disabled = true;
    const res = await fetch(url, { headers: { accept: "text/html", "x-fragment": "1" }, credentials: "same-origin" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    // Our own server's rendering of the cards (escaped on the server), as infinite scroll appends them.
    feed.innerHTML = await res.text();
    pending.delete(button);
    button.hidden = true;
    button.disabled = false;
    feed.querySelector<HTMLAnchorElement>("a")?.focus({ preventScroll: true });
    feed.scrollIntoView({ block: "start", behavior: "smooth" });
  } catch {
    location.reload();
  }
}

function counts(postId: string, reactionCounts: Record<string, unknown> | undefined, likeCount: unknown) {
  if (!postId) return;
  byData("reactions", postId).forEach((bar) => {
    bar.querySelectorAll<HTMLElement>("[data-emoji]").forEach((el) => {
      const n = Number(reactionCounts?.[el.dataset.emoji ?? ""] ?? 0);
      const count = el.querySelector(".count");
      if (count) count.textContent = n > 0 ? String(n) : "";
    });
  });
  if (typeof likeCount !== "number") return;
  byData("likes", postId).forEach((el) => {
    el.textContent = String(likeCount);
  });
}

const PRESENCE_TITLE: Record<string, string> = { in_studio: "In the studio", online: "Online", away: "Away", offline: "Offline" };

function presence(userId: string, status: string) {
  if (!userId || !(status in PRESENCE_TITLE)) return;
  byData("presence", userId).forEach((dot) => {
    dot.classList.remove("online", "in_studio", "away", "offline");
    dot.classList.add(status);
    dot.title = PRESENCE_TITLE[status]!;
  });
}

function badge() {
  const el = document.querySelector<HTMLElement>("[data-notif-badge]");
  if (!el) return;
  el.textContent = String((Number.parseInt(el.textContent ?? "", 10) || 0) + 1);
  el.hidden = false;
}

startLive();

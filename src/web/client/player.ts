// The player (docs/architecture.md "Web app"): every [data-player] on a page (markup by src/web/ui/loop.tsx) plays
// through ONE shared <audio> in the player bar, which lives outside <main> so client navigation never stops it.
// Waveforms are drawn on canvases from the loop's peaks JSON (fetched once per loop), the played part in the accent
// colour; click or drag seeks, arrow keys seek on the focused waveform, Space plays and pauses. A play is counted
// once per start of a loop (POST /l/:id/play, signed in only: the API counts signed-in listeners' plays), and how
// long it was heard (POST /l/:id/listened).
import { onPage } from "./nav.ts";

type Loop = { id: string; src: string; peaks: string; title: string; artist: string; art: string; duration: number };

const peaksCache = new Map<string, Promise<number[] | null>>();
const loopOn = new Map<string, boolean>();
let audio: HTMLAudioElement | null = null;
let bar: HTMLElement | null = null;
let current: Loop | null = null;
let pendingSeek: number | null = null;
let frame = 0;

const $$ = <T extends Element>(sel: string, root: ParentNode = document) => Array.from(root.querySelectorAll<T>(sel));
const cssEscape = (s: string) => CSS.escape(s);

function loopOf(el: HTMLElement): Loop | null {
  const d = el.dataset;
  if (!d.id || !d.src) return null;
  return {
    id: d.id,
    src: d.src,
    peaks: d.peaks ?? "",
    title: d.title ?? "",
    artist: d.artist ?? "",
    art: d.art ?? "",
    duration: Number(d.duration) || 0,
  };
}

export function formatTime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// ---- peaks and drawing -------------------------------------------------------------------------------------------

function peaksOf(loop: Pick<Loop, "id" | "peaks">): Promise<number[] | null> {
  let p = peaksCache.get(loop.id);
  if (!p) {
    p = loop.peaks
      ? fetch(loop.peaks, { credentials: "same-origin" })
          .then((r) => (r.ok ? r.json() : null))
          .then((j: unknown) => {
            const arr = Array.isArray(j) ? j : j && typeof j === "object" ? ((j as { peaks?: unknown }).peaks ?? null) : null;
            return Array.isArray(arr) ? arr.map((v) => Math.min(1, Math.max(0, Number(v) || 0))) : null;
          })
          .catch(() => null)
      : Promise.resolve(null);
    peaksCache.set(loop.id, p);
  }
  return p;
}

const drawn = new WeakMap<HTMLCanvasElement, number[]>();

let palette: { wave: string; played: string } | null = null;
/** The theme's waveform colours (read once; again when the colour scheme changes). */
function colours() {
  if (!palette) {
    const style = getComputedStyle(document.documentElement);
    palette = { wave: style.getPropertyValue("--wave").trim() || "#b9b4d9", played: style.getPropertyValue("--wave-played").trim() || "#5b3ee6" };
  }
  return palette;
}

/** Draws `peaks` as mirrored bars, the first `fraction` of them in the played colour. */
const lastDrawn = new WeakMap<HTMLCanvasElement, string>();
let generation = 0;

function draw(canvas: HTMLCanvasElement, peaks: number[], fraction: number) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  const step = Math.max(2, Math.round(3 * dpr));
  const barW = Math.max(1, step - Math.max(1, Math.round(dpr)));
  const bars = Math.max(1, Math.floor(w / step));
  const split = Math.round(fraction * bars);
  // Called every animation frame while playing: nothing to do until another bar turns.
  const key = `${generation}:${w}x${h}:${split}:${peaks.length}`;
  if (lastDrawn.get(canvas) === key && canvas.width === w && canvas.height === h) return;
  lastDrawn.set(canvas, key);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.clearRect(0, 0, w, h);
  if (!peaks.length) return;
  const { wave, played } = colours();
  for (let i = 0; i < bars; i++) {
    const from = Math.floor((i * peaks.length) / bars);
    const to = Math.max(from + 1, Math.floor(((i + 1) * peaks.length) / bars));
    let peak = 0;
    for (let j = from; j < to && j < peaks.length; j++) peak = Math.max(peak, peaks[j]!);
    const bh = Math.max(dpr, peak * h * 0.92);
    ctx.fillStyle = i < split ? played : wave;
    ctx.fillRect(i * step, (h - bh) / 2, barW, bh);
  }
}

function fractionFor(id: string | undefined): number {
  if (!audio || !current || id !== current.id) return 0;
  const d = audio.duration || current.duration;
  return d > 0 ? Math.min(1, audio.currentTime / d) : 0;
}

function redraw(canvas: HTMLCanvasElement) {
  const peaks = drawn.get(canvas);
  if (peaks) draw(canvas, peaks, fractionFor(canvas.closest<HTMLElement>("[data-player], [data-player-bar]")?.dataset.id ?? canvasId(canvas)));
}

const canvasId = (canvas: HTMLCanvasElement) => canvas.dataset.id ?? canvas.closest<HTMLElement>("[data-player]")?.dataset.id;

async function paint(canvas: HTMLCanvasElement, loop: Pick<Loop, "id" | "peaks">) {
  const peaks = await peaksOf(loop);
  if (!peaks || !canvas.isConnected) return;
  drawn.set(canvas, peaks);
  draw(canvas, peaks, fractionFor(loop.id));
}

const resize =
  "ResizeObserver" in window
    ? new ResizeObserver((entries) => {
        for (const e of entries) redraw(e.target as HTMLCanvasElement);
      })
    : null;
const near =
  "IntersectionObserver" in window
    ? new IntersectionObserver(
        (entries) => {
          for (const e of entries) {
            if (!e.isIntersecting) continue;
            near?.unobserve(e.target);
            const player = e.target.closest<HTMLElement>("[data-player]");
            const loop = player && loopOf(player);
            if (loop) void paint(e.target as HTMLCanvasElement, loop);
          }
        },
        { rootMargin: "400px 0px" },
      )
    : null;

function redrawAll() {
  palette = null;
  generation++;
  for (const c of $$<HTMLCanvasElement>("canvas[data-wave]")) redraw(c);
}

function watchPixelRatio() {
  const mq = window.matchMedia?.(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
  mq?.addEventListener?.(
    "change",
    () => {
      redrawAll();
      watchPixelRatio();
    },
    { once: true },
  );
}

// ---- the bar and the shared audio --------------------------------------------------------------------------------

function button(cls: string, attr: string, icon: string): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.setAttribute(attr, "");
  const span = document.createElement("span");
  span.setAttribute("aria-hidden", "true");
  span.textContent = icon;
  b.append(span);
  return b;
}

function ensureAudio(): HTMLAudioElement {
  if (audio) return audio;
  bar = document.querySelector<HTMLElement>("[data-player-bar]");
  const host = bar ?? document.body;
  const inner = document.createElement("div");
  inner.className = "inner";
  const play = button("play", "data-bar-play", "▶");
  play.setAttribute("aria-label", "Play");
  const now = document.createElement("div");
  now.className = "now";
  const title = document.createElement("strong");
  title.setAttribute("data-bar-title", "");
  const artist = document.createElement("span");
  artist.className = "muted";
  artist.setAttribute("data-bar-artist", "");
  const wave = document.createElement("canvas");
  wave.className = "wave";
  wave.setAttribute("data-wave", "");
  wave.setAttribute("role", "slider");
  wave.tabIndex = 0;
  wave.setAttribute("aria-label", "Seek");
  wave.setAttribute("aria-valuemin", "0");
  wave.setAttribute("aria-valuenow", "0");
  now.append(title, " ", artist, wave);
  const loop = button("loop-toggle", "data-loop", "⟲");
  loop.setAttribute("aria-pressed", "true");
  loop.setAttribute("aria-label", "Loop");
  const el = document.createElement("audio");
  el.preload = "none";
  el.loop = true;
  el.setAttribute("data-shared-audio", "");
  inner.append(play, now, loop, el);
  host.append(inner);
  audio = el;
  for (const ev of ["play", "playing", "pause", "ended"]) el.addEventListener(ev, syncButtons);
  el.addEventListener("playing", () => listenClock(true));
  for (const ev of ["pause", "ended", "waiting"]) el.addEventListener(ev, () => listenClock(false));
  el.addEventListener("timeupdate", syncProgress);
  el.addEventListener("loadedmetadata", () => {
    if (pendingSeek !== null && el.duration) {
      el.currentTime = pendingSeek * el.duration;
      pendingSeek = null;
    }
    syncProgress();
  });
  el.addEventListener("error", () => {
    if (current) console.warn(`could not play ${current.src}`);
    syncButtons();
  });
  resize?.observe(wave);
  return el;
}

function playerEls(id: string): HTMLElement[] {
  return $$<HTMLElement>(`[data-player][data-id="${cssEscape(id)}"]`);
}

function label(btn: Element, verb: string, title: string) {
  btn.setAttribute("aria-label", title ? `${verb} ${title}` : verb);
  const icon = btn.querySelector("span[aria-hidden]");
  if (icon) icon.textContent = verb === "Pause" ? "❚❚" : "▶";
}

/** Play buttons, the bar and the Media Session follow the audio element's state. */
function syncButtons() {
  const playing = Boolean(audio && current && !audio.paused && !audio.ended);
  for (const el of $$<HTMLElement>("[data-player]")) {
    const btn = el.querySelector("[data-play]");
    if (!btn) continue;
    const mine = current && el.dataset.id === current.id && playing;
    label(btn, mine ? "Pause" : "Play", el.dataset.title ?? "");
    el.classList.toggle("playing", Boolean(mine));
  }
  const barPlay = bar?.querySelector("[data-bar-play]");
  if (barPlay && current) label(barPlay, playing ? "Pause" : "Play", current.title);
  if ("mediaSession" in navigator) navigator.mediaSession.playbackState = current ? (playing ? "playing" : "paused") : "none";
  if (playing) tick();
}

function setAttr(el: Element, name: string, value: string) {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

function syncProgress() {
  if (!audio || !current) return;
  const t = audio.currentTime;
  const d = audio.duration || current.duration;
  const canvases = [
    ...playerEls(current.id).map((p) => p.querySelector<HTMLCanvasElement>("canvas[data-wave]")),
    bar?.querySelector<HTMLCanvasElement>("canvas[data-wave]"),
  ];
  for (const c of canvases) {
    if (!c) continue;
    redraw(c);
    setAttr(c, "aria-valuenow", String(Math.round(t * 10) / 10));
    setAttr(c, "aria-valuetext", `${formatTime(t)} of ${formatTime(d)}`);
    if (d) setAttr(c, "aria-valuemax", String(Math.round(d * 100) / 100));
  }
  if ("mediaSession" in navigator && navigator.mediaSession.setPositionState && audio.duration) {
    try {
      navigator.mediaSession.setPositionState({ duration: audio.duration, position: Math.min(t, audio.duration), playbackRate: audio.playbackRate });
    } catch {
      /* a position the platform refuses: skip it */
    }
  }
}

function tick() {
  cancelAnimationFrame(frame);
  const step = () => {
    syncProgress();
    if (audio && !audio.paused) frame = requestAnimationFrame(step);
  };
  frame = requestAnimationFrame(step);
}

function syncLoopButtons(id: string) {
  const on = loopOn.get(id) ?? true;
  for (const el of playerEls(id)) el.querySelector("[data-loop]")?.setAttribute("aria-pressed", String(on));
  if (current?.id === id) {
    bar?.querySelector("[data-loop]")?.setAttribute("aria-pressed", String(on));
    if (audio) audio.loop = on;
  }
}

function csrfToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
}

/** Counts the play (signed in only) and shows the new count wherever the loop's plays are on the page. */
async function countPlay(id: string) {
  const token = csrfToken();
  if (!token) return;
  try {
    const res = await fetch(`/l/${encodeURIComponent(id)}/play`, {
      method: "POST",
      credentials: "same-origin",
      headers: { accept: "application/json", "x-csrf-token": token },
    });
    if (!res.ok) return;
    const { play_count } = (await res.json()) as { play_count: number };
    for (const el of $$<HTMLElement>(`[data-plays="${cssEscape(id)}"]`)) el.textContent = `${play_count} ${play_count === 1 ? "play" : "plays"}`;
  } catch {
    /* offline: the play is simply not counted */
  }
}

// How long the current loop has been heard since it was started (wall clock while the audio plays, repeats
// included), reported to POST /l/:id/listened (the API's listen duration, kept on the latest play: the longest report
// wins) when another loop starts and when the page is hidden or left. Signed in only, like plays.
let listenedMs = 0;
let playingSince: number | null = null;

function listenClock(playing: boolean) {
  const now = performance.now();
  if (playingSince !== null) listenedMs += now - playingSince;
  playingSince = playing ? now : null;
}

function reportListen() {
  if (!current || !audio) return;
  listenClock(!audio.paused);
  const token = csrfToken();
  const seconds = Math.round(listenedMs / 100) / 10;
  if (!token || seconds <= 0) return;
  // keepalive: the report survives the page being closed.
  void fetch(`/l/${encodeURIComponent(current.id)}/listened`, {
    method: "POST",
    credentials: "same-origin",
    keepalive: true,
    headers: { accept: "application/json", "x-csrf-token": token },
    body: new URLSearchParams({ seconds: String(seconds) }),
  }).catch(() => undefined);
}

function setSource(loop: Pick<Loop, "src">) {
  const el = ensureAudio();
  if (el.getAttribute("src") !== loop.src) {
    el.src = loop.src;
    el.preload = "auto";
    el.load();
  }
}

function start(loop: Loop, at?: number) {
  const el = ensureAudio();
  const switching = current?.id !== loop.id;
  if (switching && current) {
    el.pause();
    reportListen();
    listenedMs = 0;
    playingSince = null;
  }
  current = loop;
  setSource(loop);
  el.loop = loopOn.get(loop.id) ?? true;
  if (at !== undefined) seekTo(at);
  if (bar) {
    bar.hidden = false;
    bar.dataset.id = loop.id;
    document.body.classList.add("has-player");
    const title = bar.querySelector("[data-bar-title]");
    const artist = bar.querySelector("[data-bar-artist]");
    if (title) title.textContent = loop.title;
    if (artist) artist.textContent = loop.artist;
    const wave = bar.querySelector<HTMLCanvasElement>("canvas[data-wave]");
    if (wave) {
      wave.dataset.id = loop.id;
      wave.setAttribute("aria-label", `Seek in ${loop.title}`);
      drawn.delete(wave);
      lastDrawn.delete(wave);
      wave.getContext("2d")?.clearRect(0, 0, wave.width, wave.height);
      void paint(wave, loop);
    }
    const loopBtn = bar.querySelector("[data-loop]");
    loopBtn?.setAttribute("aria-label", `Loop ${loop.title}`);
  }
  syncLoopButtons(loop.id);
  if ("mediaSession" in navigator && window.MediaMetadata) {
    navigator.mediaSession.metadata = new MediaMetadata({
      title: loop.title,
      artist: loop.artist,
      artwork: loop.art ? [{ src: new URL(loop.art, location.href).href }] : [],
    });
  }
  el.play().catch((err: Error) => {
    if (err.name !== "AbortError") console.warn("playback refused:", err.message);
    syncButtons();
  });
  if (switching) void countPlay(loop.id);
  syncButtons();
}

function toggle() {
  if (!audio || !current) return;
  if (audio.paused || audio.ended) {
    // A warm-up for another loop may have replaced the source meanwhile.
    setSource(current);
    audio.play().catch(() => syncButtons());
  } else audio.pause();
}

function seekTo(fraction: number) {
  if (!audio || !current) return;
  const f = Math.min(0.999, Math.max(0, fraction));
  if (audio.readyState >= 1 && audio.duration) audio.currentTime = f * audio.duration;
  else pendingSeek = f;
  syncProgress();
}

// ---- input -------------------------------------------------------------------------------------------------------

function loopFor(target: Element): { loop: Loop | null; inBar: boolean } {
  const player = target.closest<HTMLElement>("[data-player]");
  if (player) return { loop: loopOf(player), inBar: false };
  if (target.closest("[data-player-bar]")) return { loop: current, inBar: true };
  return { loop: null, inBar: false };
}

/**
 * Comment markers (web/ui/comments.tsx): each [data-markers-for] strip joins its loop's player, under the waveform,
 * each marker placed at its moment (positions through the CSSOM: the CSP allows no style attribute).
 */
function placeMarkers(root: ParentNode) {
  for (const strip of $$<HTMLElement>("[data-markers-for]", root)) {
    const player = document.querySelector<HTMLElement>(`[data-player][data-id="${cssEscape(strip.dataset.markersFor ?? "")}"]`);
    const duration = Number(player?.dataset.duration) || 0;
    if (!player || !duration) continue;
    for (const m of $$<HTMLElement>("[data-marker]", strip)) m.style.left = `${Math.min(100, Number(m.dataset.atMs) / 10 / duration)}%`;
    player.append(strip);
    strip.hidden = false;
  }
}

/** A click on a comment marker: the loop plays from that moment, and the comment scrolls into view. */
function onMarker(marker: HTMLElement, e: MouseEvent) {
  const player = marker.closest<HTMLElement>("[data-player]");
  const loop = player ? loopOf(player) : null;
  if (!loop?.duration) return;
  e.preventDefault();
  const fraction = Number(marker.dataset.atMs) / 1000 / loop.duration;
  if (current?.id === loop.id) {
    seekTo(fraction);
    if (audio?.paused) toggle();
  } else start(loop, fraction);
  document.querySelector(marker.getAttribute("href") ?? "")?.scrollIntoView({ block: "center" });
}

function onClick(e: MouseEvent) {
  const t = e.target as Element | null;
  const marker = t?.closest?.<HTMLElement>("[data-marker]");
  if (marker) return onMarker(marker, e);
  const btn = t?.closest?.("[data-play], [data-bar-play], [data-loop]");
  if (!btn) return;
  const { loop } = loopFor(btn);
  if (!loop) return;
  e.preventDefault();
  if (btn.hasAttribute("data-loop")) {
    loopOn.set(loop.id, !(loopOn.get(loop.id) ?? true));
    syncLoopButtons(loop.id);
    return;
  }
  if (current?.id === loop.id) toggle();
  else start(loop);
}

/** Warm-up: the pointer on a play button loads its MP3 before the click (click-to-sound). */
function warm(e: PointerEvent) {
  const btn = (e.target as Element | null)?.closest?.("[data-play]");
  const player = btn?.closest<HTMLElement>("[data-player]");
  const loop = player && loopOf(player);
  if (!loop || current?.id === loop.id) return;
  // Hovering must not cut off a loop that is playing or paused; pressing is about to switch anyway.
  if (e.type === "pointerover" && current) return;
  setSource(loop);
}

let dragging: HTMLCanvasElement | null = null;

function fractionAt(canvas: HTMLCanvasElement, clientX: number) {
  const r = canvas.getBoundingClientRect();
  return r.width ? (clientX - r.left) / r.width : 0;
}

function onPointerDown(e: PointerEvent) {
  warm(e);
  const canvas = (e.target as Element | null)?.closest?.("canvas[data-wave]") as HTMLCanvasElement | null;
  if (!canvas || e.button !== 0) return;
  const { loop } = loopFor(canvas);
  if (!loop) return;
  e.preventDefault();
  canvas.focus({ preventScroll: true });
  const f = fractionAt(canvas, e.clientX);
  if (current?.id !== loop.id) start(loop, f);
  else seekTo(f);
  dragging = canvas;
  canvas.setPointerCapture?.(e.pointerId);
}

function onPointerMove(e: PointerEvent) {
  if (dragging && e.target === dragging) seekTo(fractionAt(dragging, e.clientX));
}

function onPointerUp() {
  dragging = null;
}

const TEXT_FIELD = "input, textarea, select, button, [contenteditable]:not([contenteditable='false'])";

function onKey(e: KeyboardEvent) {
  if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
  const t = e.target as Element | null;
  const canvas = t?.closest?.("canvas[data-wave]") as HTMLCanvasElement | null;
  if (canvas) {
    const { loop } = loopFor(canvas);
    if (!loop) return;
    const d = (current?.id === loop.id && audio?.duration) || loop.duration || 1;
    const now = current?.id === loop.id && audio ? audio.currentTime : 0;
    const step = Math.max(0.25, d / 20);
    const to: Record<string, number> = {
      ArrowRight: now + step,
      ArrowUp: now + step,
      ArrowLeft: now - step,
      ArrowDown: now - step,
      PageUp: now + d / 4,
      PageDown: now - d / 4,
      Home: 0,
      End: d,
    };
    if (e.key in to) {
      e.preventDefault();
      const f = to[e.key]! / d;
      if (current?.id !== loop.id) start(loop, Math.max(0, f));
      else seekTo(f);
      return;
    }
  }
  if (e.key !== " " && e.key !== "Spacebar") return;
  if (t?.closest?.(TEXT_FIELD)) return;
  if (canvas && current?.id !== loopFor(canvas).loop?.id) {
    e.preventDefault();
    const { loop } = loopFor(canvas);
    if (loop) start(loop);
    return;
  }
  if (!current) return;
  e.preventDefault();
  toggle();
}

function setupMediaSession() {
  if (!("mediaSession" in navigator)) return;
  const ms = navigator.mediaSession;
  const set = (action: MediaSessionAction, handler: MediaSessionActionHandler | null) => {
    try {
      ms.setActionHandler(action, handler);
    } catch {
      /* an action this browser does not know */
    }
  };
  set("play", () => toggleTo(true));
  set("pause", () => toggleTo(false));
  set("seekto", (d) => {
    if (audio && d.seekTime !== undefined) audio.currentTime = d.seekTime;
  });
  set("previoustrack", null);
  set("nexttrack", null);
}

function toggleTo(play: boolean) {
  if (!audio || !current) return;
  if (play === audio.paused) toggle();
}

/** Enhances the players in `root`: waveforms to draw, and the state of the loop that is playing. */
function enhance(root: ParentNode) {
  for (const canvas of $$<HTMLCanvasElement>("[data-player] canvas[data-wave]", root)) {
    resize?.observe(canvas);
    if (near) near.observe(canvas);
    else {
      const loop = loopOf(canvas.closest<HTMLElement>("[data-player]")!);
      if (loop) void paint(canvas, loop);
    }
  }
  for (const player of $$<HTMLElement>("[data-player]", root)) {
    const id = player.dataset.id;
    if (id && loopOn.has(id)) syncLoopButtons(id);
  }
  placeMarkers(root);
  syncButtons();
}

export function startPlayer(): void {
  document.addEventListener("click", onClick);
  document.addEventListener("pointerdown", onPointerDown);
  document.addEventListener("pointerover", warm);
  document.addEventListener("pointermove", onPointerMove);
  document.addEventListener("pointerup", onPointerUp);
  document.addEventListener("pointercancel", onPointerUp);
  document.addEventListener("keydown", onKey);
  document.addEventListener("sc:cards", (e) => enhance(e.target as Element));
  document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && reportListen());
  window.addEventListener("pagehide", reportListen);
  window.matchMedia?.("(prefers-color-scheme: dark)").addEventListener?.("change", redrawAll);
  watchPixelRatio();
  setupMediaSession();
  onPage(enhance);
}

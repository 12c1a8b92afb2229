// The real-browser harness for the web app: a really listening server (start() from src/index.ts on a fresh
// DATA_DIR, with real loops uploaded through the API so their MP3 and peaks exist), Debian's /usr/bin/chromium driven
// by puppeteer-core, console and page errors collected (a test fails on any), and axe-core for accessibility.
// Without /usr/bin/chromium the browser tests are skipped, loudly (`.ci/run` installs it).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import puppeteer, { type Browser, type ElementHandle, type Page } from "puppeteer-core";
import { loadConfig } from "../../src/config.ts";
import { posts } from "../../src/db/schema.ts";
import { type Running, start } from "../../src/index.ts";
import { lavfi, signals } from "./audio.ts";
import type { TestEnv } from "./deps.ts";
import { freePort } from "./net.ts";
import { insertPost, markReady } from "./ready-posts.ts";

export const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p)) ?? null;

if (!CHROMIUM) {
  console.warn("\n!!! /usr/bin/chromium is not installed: the real-browser web app tests are SKIPPED. `.ci/run` installs it (apt-get install chromium).\n");
}

export const PASSWORD = "correct horse battery staple";

export type Member = { id: string; token: string; username: string };

export type WebServer = {
  running: Running;
  url: string;
  register(username: string): Promise<Member>;
  /** Uploads a real WAV through the API and waits until the loop is ready (MP3, peaks, waveform made). */
  uploadLoop(member: Member, title: string, seconds: number): Promise<string>;
  /** A ready post playing another post's media (cheap extra loops for paging), with its own title. */
  copyLoop(member: Member, of: string, title: string): Promise<string>;
  playCount(postId: string): Promise<number>;
  /** `member` follows `target` through the API. */
  follow(member: Member, target: Member): Promise<void>;
  stop(): Promise<void>;
};

export async function startWebServer(env: Record<string, string> = {}): Promise<WebServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "sc-web-"));
  const port = await freePort();
  const url = `http://localhost:${port}`;
  const config = loadConfig({
    DATA_DIR: dataDir,
    PORT: String(port),
    PUBLIC_URL: url,
    LOG_LEVEL: "error",
    RATE_LIMIT_AUTH_PER_MIN: "100000",
    ...env,
  });
  const running = await start(config);
  const asEnv = { deps: running.deps, clock: running.deps.clock } as unknown as TestEnv;
  const api = (path: string, init: RequestInit & { token?: string } = {}) =>
    fetch(`${url}/api/v1${path}`, {
      ...init,
      headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.headers as Record<string, string>) },
    });
  return {
    running,
    url,
    async register(username) {
      const res = await api("/auth/register", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: `${username}@example.com`, username, password: PASSWORD }),
      });
      const body = (await res.json()) as { auth: { token: string; user: { id: string } } };
      if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(body)}`);
      return { id: body.auth.user.id, token: body.auth.token, username };
    },
    async uploadLoop(member, title, seconds) {
      const wav = await lavfi(join(dataDir, `${Bun.randomUUIDv7()}.wav`), signals.produced(seconds), ["-c:a", "pcm_s16le"]);
      const form = new FormData();
      form.set("audio_file", Bun.file(wav), `${title}.wav`);
      form.set("filename", title);
      form.set("bpm", "120");
      form.set("key", "A minor");
      const up = await api("/audio/upload", { method: "POST", token: member.token, body: form });
      const { post_id } = (await up.json()) as { post_id: string };
      if (up.status >= 300) throw new Error(`upload: ${up.status}`);
      const end = Date.now() + 60_000;
      for (;;) {
        const s = (await (await api(`/audio/status/${post_id}`, { token: member.token })).json()) as { status: string };
        if (s.status === "ready") return post_id;
        if (s.status === "failed" || Date.now() > end) throw new Error(`processing ${post_id}: ${JSON.stringify(s)}`);
        await Bun.sleep(100);
      }
    },
    async copyLoop(member, of, title) {
      const id = await insertPost(asEnv, member.id, title);
      const db = running.deps.database.db;
      const [src] = await db.select().from(posts).where(eq(posts.id, of));
      if (!src) throw new Error(`no post ${of}`);
      await db
        .update(posts)
        .set({ audioKey: src.audioKey, peaksKey: src.peaksKey, waveformKey: src.waveformKey, oggKey: src.oggKey, waveformPngKey: src.waveformPngKey })
        .where(eq(posts.id, id));
      await markReady(asEnv, id);
      await db.update(posts).set({ durationSeconds: src.durationSeconds }).where(eq(posts.id, id));
      return id;
    },
    async playCount(postId) {
      const [p] = await running.deps.database.db.select({ n: posts.playCount }).from(posts).where(eq(posts.id, postId));
      return p?.n ?? -1;
    },
    async follow(member, target) {
      const res = await api("/social/follow", {
        method: "POST",
        token: member.token,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ target_user_id: target.id }),
      });
      if (res.status !== 201) throw new Error(`follow: ${res.status} ${await res.text()}`);
    },
    async stop() {
      await running.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Where browser tests save the screenshots people look at (made by the tests that write there). */
export const SHOTS = "/tmp/sidechain-shots";
export const PHONE = { width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
export const DESKTOP = { width: 1280, height: 800, deviceScaleFactor: 1 };

export type Chromium = {
  browser: Browser;
  /** Console errors and uncaught page errors of every page opened (a test asserts it stays empty). */
  errors: string[];
  /** A new tab; `isolated`: in its own browser context (no cookies: a visitor who is not signed in). */
  page(viewport?: typeof PHONE | typeof DESKTOP, isolated?: boolean): Promise<Page>;
  close(): Promise<void>;
};

export async function launchChromium(): Promise<Chromium> {
  if (!CHROMIUM) throw new Error("chromium is not installed");
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    pipe: true,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--mute-audio",
    ],
  });
  const errors: string[] = [];
  return {
    browser,
    errors,
    async page(viewport = PHONE, isolated = false) {
      const page = await (isolated ? await browser.createBrowserContext() : browser).newPage();
      await page.setViewport(viewport);
      page.on("console", (msg) => {
        if (msg.type() === "error") errors.push(`console: ${msg.text()} (${msg.location().url ?? ""})`);
      });
      page.on("pageerror", (err) => errors.push(`page error: ${(err as Error).message ?? String(err)}`));
      return page;
    },
    close: () => browser.close(),
  };
}

/** Signs in through the /signin page, as a person would. */
export async function signIn(page: Page, url: string, username: string, password = PASSWORD) {
  await page.goto(`${url}/signin`);
  await page.type('input[name="login"]', username);
  await page.type('input[name="password"]', password);
  await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
}

export type AxeViolation = { id: string; impact: string; help: string; nodes: { target: string[]; failureSummary?: string }[] };

/** Runs axe-core on the page: the serious and critical violations. */
export async function axe(page: Page): Promise<AxeViolation[]> {
  // Evaluated over the DevTools protocol, which the page's CSP (script-src 'self') does not govern.
  await page.evaluate(await Bun.file(require.resolve("axe-core/axe.min.js")).text());
  const violations = (await page.evaluate(async () => {
    const w = window as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } };
    const r = await w.axe.run();
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
    }));
  })) as AxeViolation[];
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Polls `get` until `ok` says yes; generous by default: CI machines (and several test runs sharing two cores)
 *  make a browser slow. */
export async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await Bun.sleep(50);
  }
}

let found = 0;
/** The element whose accessible name and role are these, under `root` (a page or an element), asked of Chromium's
 *  accessibility tree (Accessibility.queryAXTree): what a screen reader would find by that name. */
export async function findByName(root: Page | ElementHandle<Element>, name: string, role = "button"): Promise<ElementHandle<Element>> {
  const owner = "frame" in root ? root.frame.page() : root;
  const cdp = await owner.createCDPSession();
  const mark = String(++found);
  try {
    const doc = (await cdp.send("DOM.getDocument", { depth: 0 })).root.backendNodeId;
    const { nodes } = await cdp.send("Accessibility.queryAXTree", { backendNodeId: doc, accessibleName: name, role });
    for (const n of nodes) {
      if (n.ignored || n.backendDOMNodeId === undefined) continue;
      const { object } = await cdp.send("DOM.resolveNode", { backendNodeId: n.backendDOMNodeId });
      await cdp.send("Runtime.callFunctionOn", {
        objectId: object.objectId!,
        functionDeclaration: "function (mark) { this.setAttribute('data-found', mark); }",
        arguments: [{ value: mark }],
      });
    }
  } finally {
    await cdp.detach();
  }
  const el = await root.$(`[data-found="${mark}"]`);
  if (!el) throw new Error(`no ${role} named ${JSON.stringify(name)}`);
  return el;
}

// Live updates in a real browser (Debian's chromium through puppeteer-core) against a really listening server: a
// signed-in timeline opens its WebSocket with a ticket from POST /web/ws-token (the browser's own Origin header must
// pass the hub's check), then a followee's new loop shows "1 new loop", reaction counts, the presence dot and the
// notifications badge change in place, and the button brings the new loop in. No console errors.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { publishNotification, publishPostReady, publishReaction } from "../../src/realtime/events.ts";
import { freePort } from "../support/net.ts";
import { eventually, startRealtime, type Producer, type RealtimeServer } from "../support/realtime.ts";
import { WsClient } from "../support/ws.ts";

const CHROMIUM = "/usr/bin/chromium";
const PASSWORD = "correct horse battery staple";

let s: RealtimeServer;
let browser: Browser;
let page: Page;
let mira: Producer;
let fan: Producer;
let firstPost: string;
const problems: string[] = [];

beforeAll(async () => {
  s = await startRealtime({ PORT: String(await freePort()), PRESENCE_GRACE_MS: "0" });
  mira = await s.producer();
  fan = await s.producer();
  await s.follow(fan, mira);
  firstPost = await s.readyPost(mira);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    pipe: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  page = await browser.newPage();
  // The account pages (/signin) do not link an icon yet, so chromium asks for /favicon.ico: not this test's concern.
  // The loops here are database rows without media files (this test is about live updates): the player's request
  // for their waveform peaks is a 404 the browser logs, and only that is let through.
  page.on("console", (m) => void (m.type() === "error" && !m.location().url?.includes("/media/") && problems.push(`${m.text()} (${m.location().url ?? ""})`)));
  page.on("pageerror", (e) => void problems.push(String(e)));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
});

const text = (selector: string) =>
  page.$eval(selector, (el) => ({ text: el.textContent?.trim() ?? "", hidden: (el as HTMLElement).hidden, cls: el.className }));

test.skipIf(!existsSync(CHROMIUM))(
  "a signed-in timeline updates live: new loops, reactions, presence, notifications",
  async () => {
    const base = s.running.deps.config.PUBLIC_URL;
    await page.goto(`${base}/signin`);
    await page.type('input[name="login"]', fan.username);
    await page.type('input[name="password"]', PASSWORD);
    await Promise.all([page.waitForNavigation(), page.click('form button[type="submit"], form [type="submit"]')]);
    await page.goto(`${base}/`);
    expect(await page.$(`[data-feed="timeline"] [data-post="${firstPost}"]`)).not.toBeNull();
    await eventually(() => s.running.hub.connectionsOf(fan.id) === 1, 10_000, "the page's WebSocket");

    // A followee's new loop: the button counts it.
    const newPost = await s.readyPost(mira);
    await publishPostReady(s.running.deps, newPost);
    await page.waitForFunction(() => !document.querySelector<HTMLElement>("[data-new-loops]")?.hidden, { timeout: 10_000 });
    expect((await text("[data-new-loops]")).text).toBe("1 new loop");

    // Reactions to a loop on the page (watched by the page's watch frame) change its counts.
    await eventually(
      async () => {
        await publishReaction(s.running.deps, {
          postId: firstPost,
          ownerId: mira.id,
          actorId: mira.id,
          liked: true,
          likeCount: 3,
          reactionCounts: { "🔥": 3 },
        });
        await Bun.sleep(100);
        return (await text(`[data-reactions="${firstPost}"] [data-emoji="🔥"] .count`)).text === "3";
      },
      10_000,
      "the reaction count",
    );

    // The followee comes online: their dot changes.
    const miraSocket = await s.connect(mira);
    await page.waitForFunction((id) => document.querySelector(`[data-presence="${id}"]`)?.classList.contains("online"), { timeout: 10_000 }, mira.id);
    await miraSocket.close();

    // A notification counts up the badge.
    const before = Number((await text("[data-notif-badge]")).text);
    await publishNotification(s.running.deps, fan.id, { id: "n1" });
    await page.waitForFunction((n) => document.querySelector("[data-notif-badge]")?.textContent === String(n), { timeout: 10_000 }, before + 1);
    expect((await text("[data-notif-badge]")).hidden).toBe(false);

    // The button brings the new loop in, and goes away.
    await page.click("[data-new-loops]");
    await page.waitForSelector(`[data-feed="timeline"] [data-post="${newPost}"]`, { timeout: 10_000 });
    expect((await text("[data-new-loops]")).hidden).toBe(true);

    expect(problems).toEqual([]);
  },
  60_000,
);

test.skipIf(!existsSync(CHROMIUM))("a page of another origin cannot use a ticket: the hub refuses its socket", async () => {
  // What a foreign page's script would do with a stolen ticket: its browser sends its own Origin.
  const csrfPage = await browser.newPage();
  await csrfPage.goto("about:blank");
  const base = s.running.deps.config.PUBLIC_URL;
  const res = await page.evaluate(async () => {
    const meta = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')!.content;
    const r = await fetch("/web/ws-token", { method: "POST", headers: { accept: "application/json", "x-csrf-token": meta } });
    return (await r.json()) as { token: string };
  });
  const opened = await csrfPage.evaluate(
    (url) =>
      new Promise<boolean>((resolve) => {
        const ws = new WebSocket(url);
        ws.onopen = () => resolve(true);
        ws.onerror = () => resolve(false);
      }),
    `${base.replace(/^http/, "ws")}/api/v1/ws?token=${encodeURIComponent(res.token)}`,
  );
  expect(opened).toBe(false);
  await csrfPage.close();
  // The ticket was not spent by the refused attempt: the page's own origin can still use it.
  const c = await WsClient.connect(base, res.token, "/api/v1/ws", { origin: new URL(base).origin });
  await c.close();
});

// The web app in a real browser (Chromium through puppeteer-core, test/support/chromium.ts), at phone width: the
// player (one shared <audio>, the bar, waveform seeking, Space, the loop toggle, one loop at a time, plays counted
// and how long they were heard),
// client navigation that keeps the loop playing, infinite scroll, Back to where the feed was left, accessibility
// (axe) and no console errors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import type { Page } from "puppeteer-core";
import { plays } from "../../src/db/schema.ts";
import { axe, CHROMIUM, type Chromium, launchChromium, type Member, signIn, startWebServer, until, type WebServer } from "../support/chromium.ts";

const run = CHROMIUM ? describe : describe.skip;

let server: WebServer;
let chromium: Chromium;
let page: Page;
let mira: Member;
let fan: Member;
let dawn: string;
let drive: string;

const audioState = () =>
  page.evaluate(() => {
    const a = document.querySelector<HTMLAudioElement>("audio[data-shared-audio]");
    return a
      ? { t: a.currentTime, paused: a.paused, loop: a.loop, src: a.currentSrc, duration: a.duration, count: document.querySelectorAll("audio").length }
      : null;
  });

/** Clicks an element scrolled to the middle of the screen (the fixed player bar covers the bottom). */
async function press(selector: string) {
  await page.$eval(selector, (e) => e.scrollIntoView({ block: "center" }));
  await page.click(selector);
}

run("the web app in Chromium", () => {
  beforeAll(async () => {
    server = await startWebServer();
    mira = await server.register("mira");
    fan = await server.register("fan");
    drive = await server.uploadLoop(mira, "Night Drive", 4);
    // Eleven more loops on Night Drive's media, so the feed has a second page; Dawn Chorus is the newest.
    for (let i = 1; i <= 11; i++) await server.copyLoop(mira, drive, `Drive take ${i}`);
    dawn = await server.uploadLoop(mira, "Dawn Chorus", 3);
    chromium = await launchChromium();
    page = await chromium.page();
    await signIn(page, server.url, fan.username);
  }, 300_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.stop();
  });

  test("Play starts the loop in the shared audio, the bar shows it, and the play is counted once", async () => {
    await page.goto(`${server.url}/`);
    await page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 42;
    });
    expect(await page.$eval("[data-player-bar]", (b) => (b as HTMLElement).hidden)).toBe(true);
    await press('button[aria-label="Play Dawn Chorus"]');
    await until("playback", audioState, (s) => Boolean(s && s.t > 0.3 && !s.paused));
    expect((await audioState())!.count).toBe(1);
    expect(await page.$eval("[data-player-bar]", (b) => (b as HTMLElement).hidden)).toBe(false);
    expect(await page.$eval("[data-bar-title]", (e) => e.textContent)).toBe("Dawn Chorus");
    expect(await page.$eval(`[data-player][data-id="${dawn}"] [data-play]`, (e) => e.getAttribute("aria-label"))).toBe("Pause Dawn Chorus");
    await until(
      "the count",
      () => server.playCount(dawn),
      (n) => n === 1,
    );
    await until(
      "the count on the page",
      () => page.$eval(`[data-plays="${dawn}"]`, (e) => e.textContent),
      (t) => t === "1 play",
    );
  }, 120_000);

  test("Space pauses; a click at the middle of the waveform seeks to the middle; Space plays; the loop toggle flips", async () => {
    await page.$eval("h1", (h) => h.scrollIntoView());
    await page.keyboard.press("Space");
    await until("pause", audioState, (a) => Boolean(a?.paused));
    const wave = `[data-player][data-id="${dawn}"] canvas[data-wave]`;
    await page.$eval(wave, (e) => e.scrollIntoView({ block: "center" }));
    const box = (await (await page.$(wave))!.boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    const s = (await until("the seek", audioState, (a) => Boolean(a && Math.abs(a.t - a.duration / 2) < 0.2)))!;
    expect(s.paused).toBe(true);
    expect(Number(await page.$eval(wave, (c) => c.getAttribute("aria-valuenow")))).toBeCloseTo(s.t, 0);
    expect(await page.$eval(wave, (c) => c.getAttribute("aria-valuetext"))).toBe("0:01 of 0:03");
    // Focus is on the waveform now: Space still plays (it is not a text field or a button).
    await page.keyboard.press("Space");
    await until("play", audioState, (a) => Boolean(a && !a.paused));
    const toggle = `[data-player][data-id="${dawn}"] [data-loop]`;
    expect(await page.$eval(toggle, (b) => b.getAttribute("aria-pressed"))).toBe("true");
    expect((await audioState())!.loop).toBe(true);
    await press(toggle);
    expect(await page.$eval(toggle, (b) => b.getAttribute("aria-pressed"))).toBe("false");
    expect((await audioState())!.loop).toBe(false);
    await press(toggle);
    expect((await audioState())!.loop).toBe(true);
  }, 120_000);

  test("starting another loop stops the first", async () => {
    const first = (await audioState())!.src;
    const second = await page.$eval("li.card.loop:nth-child(2) [data-player]", (p) => (p as HTMLElement).dataset.title!);
    await press(`button[aria-label="Play ${second}"]`);
    await until("the second loop", audioState, (s) => Boolean(s && s.src !== first && !s.paused && s.t > 0.2));
    expect(await page.$eval(`[data-player][data-id="${dawn}"] [data-play]`, (e) => e.getAttribute("aria-label"))).toBe("Play Dawn Chorus");
    expect(await page.$eval("[data-bar-title]", (e) => e.textContent)).toBe(second);
    expect(await page.$$eval('[data-play][aria-label^="Pause"]', (b) => b.length)).toBe(1);
    // How long Dawn Chorus was heard went to the server when the other loop started (kept on the fan's play).
    const listened = async () => {
      const rows = await server.running.deps.database.db
        .select()
        .from(plays)
        .where(and(eq(plays.postId, dawn), eq(plays.userId, fan.id)));
      return rows[0]?.listenMs ?? 0;
    };
    await until("the listened time", listened, (ms) => ms >= 300);
  }, 120_000);

  test("a link swaps <main> without a reload and the loop keeps playing; Back restores the page", async () => {
    await press('nav.tabs a[href="/?tab=global"]');
    await until(
      "the Latest tab",
      () => page.$eval('nav.tabs a[aria-current="page"]', (a) => a.textContent),
      (t) => t === "Latest",
    );
    expect(await page.evaluate(() => `${location.pathname}${location.search}`)).toBe("/?tab=global");
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42);
    const before = (await audioState())!;
    expect(before.paused).toBe(false);
    await until("still playing", audioState, (s) => Boolean(s && s.t !== before.t && !s.paused));
    await page.goBack();
    await until(
      "Following again",
      () => page.$eval('nav.tabs a[aria-current="page"]', (a) => a.textContent),
      (t) => t === "Following",
    );
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42);
    expect((await audioState())!.paused).toBe(false);
  }, 120_000);

  test("scrolling to the bottom appends the next cards", async () => {
    const count = () => page.$$eval("ul.loops > li.card.loop", (l) => l.length);
    expect(await count()).toBe(10);
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await until("more cards", count, (n) => n === 13);
    expect(await page.$("a[data-more]")).toBeNull();
    // The appended cards' players work like the others.
    await press('button[aria-label="Play Night Drive"]');
    await until(
      "Night Drive",
      () => page.$eval("[data-bar-title]", (e) => e.textContent),
      (t) => t === "Night Drive",
    );
  }, 120_000);

  test("Back from a loop opened deep in the feed puts the feed back as it was: the appended cards, the scroll position", async () => {
    const count = () => page.$$eval("ul.loops > li.card.loop", (l) => l.length);
    const last = "ul.loops > li.card.loop:last-child a[href^='/l/']";
    await page.$eval(last, (a) => a.scrollIntoView({ block: "center" }));
    const y = await page.evaluate(() => window.scrollY);
    expect(y).toBeGreaterThan(500);
    const href = await page.$eval(last, (a) => a.getAttribute("href"));
    await page.click(last);
    await until(
      "the loop page",
      () => page.evaluate(() => location.pathname),
      (p) => p === href,
    );
    expect(await page.evaluate(() => window.scrollY)).toBe(0);
    await page.goBack();
    await until(
      "the feed",
      () => page.evaluate(() => location.pathname),
      (p) => p === "/",
    );
    expect(await count()).toBe(13);
    expect(Math.abs((await page.evaluate(() => window.scrollY)) - y)).toBeLessThanOrEqual(2);
    // Forward shows the loop page again, from its top.
    await page.goForward();
    await until(
      "the loop page again",
      () => page.evaluate(() => location.pathname),
      (p) => p === href,
    );
    expect(await page.evaluate(() => window.scrollY)).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42);
  }, 120_000);

  test("axe finds no serious or critical violation on the home page, signed in and anonymous", async () => {
    await page.goto(`${server.url}/`);
    expect(await axe(page)).toEqual([]);
    const anonymous = await chromium.page(undefined, true);
    expect(await anonymous.goto(`${server.url}/`).then(() => anonymous.$("a[href='/signin']"))).not.toBeNull();
    expect(await axe(anonymous)).toEqual([]);
    await anonymous.close();
  }, 120_000);

  test("no console errors or page errors anywhere above", () => {
    expect(chromium.errors).toEqual([]);
  });
});

// Comments in a real browser (Chromium through puppeteer-core, test/support/chromium.ts): a member comments on a
// loop at a moment from its page, the comment shows under the player and its marker sits under the waveform at
// that moment; clicking the marker plays the loop from there. Accessibility (axe) and no console errors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import type { Page } from "puppeteer-core";
import {
  axe,
  CHROMIUM,
  type Chromium,
  DESKTOP,
  launchChromium,
  type Member,
  PHONE,
  SHOTS,
  signIn,
  startWebServer,
  until,
  type WebServer,
} from "../support/chromium.ts";

const run = CHROMIUM ? describe : describe.skip;

let server: WebServer;
let chromium: Chromium;
let page: Page;
let mira: Member;
let fan: Member;
let loop: string;

run("comments in Chromium", () => {
  beforeAll(async () => {
    server = await startWebServer();
    mira = await server.register("mira");
    fan = await server.register("fan");
    loop = await server.uploadLoop(mira, "Night Drive", 4);
    chromium = await launchChromium();
    page = await chromium.page(DESKTOP);
    await signIn(page, server.url, fan.username);
  }, 300_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.stop();
  });

  test("comment at a moment; the marker sits under the waveform there, and clicking it plays from that moment", async () => {
    await page.goto(`${server.url}/l/${loop}`);
    await page.type("#comment-content", "The hat pattern here 🔥");
    await page.type("#comment-at", "2");
    await Promise.all([page.waitForNavigation(), page.click("#comment-form button[type=submit]")]);
    expect(await page.$eval(".comment .comment-text", (e) => e.textContent)).toBe("The hat pattern here 🔥");
    expect(await page.$eval("#comments-heading", (e) => e.textContent)).toBe("Comments (1)");
    // The strip moved into the player and shows; its marker is at 2 s of the 4 s loop.
    const marker = await until(
      "the marker placed",
      () =>
        page.evaluate(() => {
          const m = document.querySelector<HTMLElement>("[data-player] .comment-markers [data-marker]");
          const strip = m?.parentElement;
          return m && strip && !strip.hidden ? { left: m.style.left, width: strip.getBoundingClientRect().width, x: m.offsetLeft } : null;
        }),
      (v) => v !== null,
    );
    expect(Number.parseFloat(marker!.left)).toBeCloseTo(50, 0);
    expect(marker!.x / marker!.width).toBeCloseTo(0.5, 1);
    // (Centred first: the page came back scrolled to the new comment, and the sticky header covers the top.)
    await page.$eval("[data-player] [data-marker]", (e) => e.scrollIntoView({ block: "center" }));
    await page.click("[data-player] [data-marker]");
    const state = await until(
      "playing from the marker",
      () =>
        page.evaluate(() => {
          const a = document.querySelector<HTMLAudioElement>("audio[data-shared-audio]");
          return a ? { t: a.currentTime, paused: a.paused } : null;
        }),
      (s) => s !== null && !s.paused && s.t >= 1.9,
    );
    expect(state!.t).toBeGreaterThanOrEqual(1.9);
    expect(await axe(page)).toEqual([]);
    expect(chromium.errors).toEqual([]);
  }, 120_000);

  test("like and edit from the page; the section at phone and desktop widths (screenshots), axe clean", async () => {
    await page.goto(`${server.url}/l/${loop}`);
    await page.$eval(".comment .comment-actions", (e) => e.scrollIntoView({ block: "center" }));
    await Promise.all([page.waitForNavigation(), page.click(".comment .comment-actions form.toggle button")]);
    expect(await page.$eval(".comment .comment-actions form.toggle button", (e) => [e.textContent, e.getAttribute("aria-pressed")])).toEqual([
      "♥ Liked · 1",
      "true",
    ]);
    await page.$eval(".comment-edit", (e) => e.scrollIntoView({ block: "center" }));
    await page.click(".comment-edit summary");
    await page.$eval(".comment-edit textarea", (e) => {
      (e as HTMLTextAreaElement).value = "";
    });
    await page.type(".comment-edit textarea", "The hat pattern at 0:02 🔥🔥");
    await Promise.all([page.waitForNavigation(), page.click(".comment-edit button[type=submit]")]);
    expect(await page.$eval(".comment .comment-text", (e) => e.textContent)).toBe("The hat pattern at 0:02 🔥🔥");
    expect(await page.$eval(".comment .comment-head", (e) => e.textContent)).toContain("(edited)");
    expect(await axe(page)).toEqual([]);
    mkdirSync(SHOTS, { recursive: true });
    for (const [name, viewport] of [
      ["phone", PHONE],
      ["desktop", DESKTOP],
    ] as const) {
      const p = await chromium.page(viewport); // the same browser context: signed in as fan
      await p.goto(`${server.url}/l/${loop}#comments`);
      await p.screenshot({ path: `${SHOTS}/comments-${name}.png`, fullPage: true });
      // Nothing wider than the screen.
      expect(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      await p.close();
    }
    expect(chromium.errors).toEqual([]);
  }, 120_000);
});

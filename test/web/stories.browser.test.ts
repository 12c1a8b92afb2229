// Stories in a real browser (Chromium through puppeteer-core, test/support/chromium.ts): a follower sees the
// producer in the home page's row of stories, opens it, plays the story (a plain <audio>) and the client script
// records the view once; heard, the producer leaves the row. Accessibility (axe) of the home page, the stories page
// and the story form, no console errors, and screenshots at phone and desktop widths in /tmp/sidechain-shots.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "puppeteer-core";
import { eq } from "drizzle-orm";
import { stories } from "../../src/db/schema.ts";
import { lavfi, signals } from "../support/audio.ts";
import {
  axe,
  type Chromium,
  CHROMIUM,
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
let storyId: string;

run("stories in Chromium", () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startWebServer();
    mira = await server.register("mira");
    fan = await server.register("fan");
    await server.follow(fan, mira);
    // Mira posts a story through the API, as the plugin does (the file in `audio`).
    const wav = await lavfi(join(SHOTS, `story-${Bun.randomUUIDv7()}.wav`), signals.produced(3), ["-c:a", "pcm_s16le"]);
    const form = new FormData();
    form.set("audio", Bun.file(wav), "story.wav");
    form.set("filename", "Night sketch");
    const up = await fetch(`${server.url}/api/v1/stories`, { method: "POST", headers: { authorization: `Bearer ${mira.token}` }, body: form });
    expect(up.status).toBe(201);
    storyId = ((await up.json()) as { id: string }).id;
    chromium = await launchChromium();
    page = await chromium.page(DESKTOP);
    await signIn(page, server.url, fan.username);
  }, 300_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.stop();
  });

  const viewCount = async () =>
    (await server.running.deps.database.db.select({ n: stories.viewCount }).from(stories).where(eq(stories.id, storyId)))[0]?.n ?? -1;

  test("the row shows the producer; their page plays the story and the script records the view once", async () => {
    await page.goto(`${server.url}/`);
    expect(await page.$eval(`[data-story-group="${mira.id}"] > span:last-child`, (a) => a.textContent)).toBe("mira");
    expect(await axe(page)).toEqual([]);
    await page.screenshot({ path: `${SHOTS}/stories-home-desktop.png` });
    await Promise.all([page.waitForNavigation(), page.click(`[data-story-group="${mira.id}"]`)]);
    expect(new URL(page.url()).pathname).toBe(`/stories/u/${mira.id}`);
    expect(await axe(page)).toEqual([]);
    await page.screenshot({ path: `${SHOTS}/stories-page-desktop.png`, fullPage: true });
    // Play it: the click gives the page the gesture a browser wants before it plays sound.
    await page.click("audio[data-story-view]");
    await page.$eval("audio[data-story-view]", (a) => (a as HTMLAudioElement).play());
    await until("the view recorded", viewCount, (n) => n === 1);
    await until(
      "the page marked it heard",
      () => page.$eval(".story", (li) => li.classList.contains("heard")),
      (heard) => heard,
    );
    // Playing again counts nothing more.
    await page.$eval("audio[data-story-view]", (a) => {
      const audio = a as HTMLAudioElement;
      audio.pause();
      audio.currentTime = 0;
      return audio.play();
    });
    expect(await viewCount()).toBe(1);
    // Heard: the producer has left the row.
    await page.goto(`${server.url}/`);
    expect(await page.$(`[data-story-group="${mira.id}"]`)).toBeNull();
    expect(chromium.errors).toEqual([]);
  }, 120_000);

  test("at phone width: the row, the stories page and the story form, accessible", async () => {
    // The same browser, so the same member (the fan, who has no story of their own yet).
    const phone = await chromium.page(PHONE);
    await phone.goto(`${server.url}/`);
    expect(await phone.$eval("[data-own-story]", (a) => a.getAttribute("href"))).toBe("/stories/new");
    await phone.screenshot({ path: `${SHOTS}/stories-home-phone.png` });
    await phone.goto(`${server.url}/stories/u/${mira.id}`);
    expect(await phone.$eval(".story > p.muted:last-child", (p) => p.textContent)).toBe("Heard");
    expect(await axe(phone)).toEqual([]);
    await phone.screenshot({ path: `${SHOTS}/stories-page-phone.png`, fullPage: true });
    await phone.goto(`${server.url}/stories/new`);
    expect(await axe(phone)).toEqual([]);
    await phone.screenshot({ path: `${SHOTS}/stories-new-phone.png`, fullPage: true });
    expect(chromium.errors).toEqual([]);
  }, 120_000);
});

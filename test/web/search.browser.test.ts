// The search page in a real browser (Chromium through puppeteer-core, test/support/chromium.ts), as people use it:
// from the header's Search link, type words and a key, submit the form (a plain GET: every search is a link), see the
// loops as cards and the producer as a link, page on with "More loops"; a key that names no key is shown on its
// field. axe on every page, on a phone and on a desktop; no console errors anywhere.
import { afterAll, beforeAll, expect, test, describe } from "bun:test";
import type { Page } from "puppeteer-core";
import { axe, CHROMIUM, type Chromium, DESKTOP, launchChromium, type Member, signIn, startWebServer, type WebServer } from "../support/chromium.ts";

const run = CHROMIUM ? describe : describe.skip;

let server: WebServer;
let chromium: Chromium;
let mira: Member;

const text = (page: Page, selector: string) => page.$eval(selector, (e) => (e.textContent ?? "").trim());
const cards = (page: Page) => page.$$eval("ul.loops > li:not(.pager)", (els) => els.length);

run("search in Chromium", () => {
  beforeAll(async () => {
    server = await startWebServer();
    mira = await server.register("miraloops");
    const first = await server.uploadLoop(mira, "Night Drive", 2);
    for (let i = 0; i < 11; i++) await server.copyLoop(mira, first, `Night Copy ${i}`);
    await server.copyLoop(mira, first, "Morning Dew");
    chromium = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.stop();
  });

  test("a visitor searches from the header: cards, the producer, More loops; axe clean", async () => {
    const page = await chromium.page(undefined, true);
    await page.goto(`${server.url}/`);
    await Promise.all([page.waitForNavigation(), page.click("header a[href='/search']")]);
    expect(await text(page, "h1")).toBe("Search");
    expect(await axe(page)).toEqual([]);
    await page.type("#s-q", "night");
    await page.type("#s-key", "A minor");
    await Promise.all([page.waitForNavigation(), page.click("search form button[type=submit]")]);
    expect(page.url()).toContain("/search?q=night");
    expect(await cards(page)).toBe(10);
    expect(await text(page, "main")).not.toContain("Morning Dew");
    expect(await axe(page)).toEqual([]);
    await Promise.all([page.waitForNavigation(), page.click("a.more")]);
    expect(await cards(page)).toBe(2);
    const producer = await page.goto(`${server.url}/search?q=miral`);
    expect(producer!.status()).toBe(200);
    expect(await page.$("a[href='/@miraloops']")).not.toBeNull();
  }, 120_000);

  test("a key that names no key is shown on its field (400), the form kept; signed in on a desktop too", async () => {
    const page = await chromium.page(DESKTOP, true);
    await signIn(page, server.url, "miraloops");
    const res = await page.goto(`${server.url}/search?q=night&key=H%20minor`);
    expect(res!.status()).toBe(400);
    expect(await text(page, "#s-key-error")).toContain("Not a key");
    expect(await page.$eval("#s-q", (e) => (e as HTMLInputElement).value)).toBe("night");
    expect(await axe(page)).toEqual([]);
    await page.goto(`${server.url}/search?q=night&key=C`);
    expect(await cards(page)).toBe(10);
    expect(await axe(page)).toEqual([]);
    // The one error is the browser reporting the refused search's 400 itself.
    expect(chromium.errors.filter((e) => !e.includes("status of 400") || !e.includes("key=H%20minor"))).toEqual([]);
  }, 120_000);
});

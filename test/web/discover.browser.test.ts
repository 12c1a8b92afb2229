// The discover page and a loop's similar loops in a real browser (Chromium through puppeteer-core,
// test/support/chromium.ts), as people use them: from the header's Discover link, pick a genre, see its loops as
// cards and page on with "More loops"; signed in, follow a producer you may like with its button (the script sends
// the form and the button shows it pressed); on a loop's page, the "Similar loops" section. axe on every page, on a
// phone and on a desktop; no console errors anywhere. With DISCOVER_SHOTS=<dir> it also leaves screenshots there.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "puppeteer-core";
import {
  axe,
  CHROMIUM,
  type Chromium,
  DESKTOP,
  launchChromium,
  type Member,
  PHONE,
  signIn,
  startWebServer,
  until,
  type WebServer,
} from "../support/chromium.ts";
import { insertFollow } from "../support/ready-posts.ts";
import type { TestEnv } from "../support/deps.ts";

const run = CHROMIUM ? describe : describe.skip;
const SHOTS = process.env.DISCOVER_SHOTS;

let server: WebServer;
let chromium: Chromium;
let mira: Member;
let fan: Member;
let first: string;

const text = (page: Page, selector: string) => page.$eval(selector, (e) => (e.textContent ?? "").trim());
const cards = (page: Page, under = "main") => page.$$eval(`${under} ul.loops > li:not(.pager)`, (els) => els.length);
const shot = async (page: Page, name: string) => (SHOTS ? void (await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true })) : undefined);

run("discover in Chromium", () => {
  beforeAll(async () => {
    server = await startWebServer();
    mira = await server.register("miraloops");
    fan = await server.register("fanofloops");
    const friend = await server.register("friendly");
    first = await server.uploadLoop(mira, "Night Drive", 2);
    // Copies are lofi loops at 120 BPM in A minor (test/support/ready-posts.ts): a genre with pages, all similar.
    for (let i = 0; i < 12; i++) await server.copyLoop(mira, first, `Night Copy ${i}`);
    const env = { deps: server.running.deps, clock: server.running.deps.clock } as unknown as TestEnv;
    await insertFollow(env, fan.id, friend.id);
    await insertFollow(env, friend.id, mira.id);
    chromium = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.stop();
  });

  test("a visitor on a phone: Discover from the header, a genre's loops as cards, More loops; axe clean", async () => {
    const page = await chromium.page(PHONE, true);
    await page.goto(`${server.url}/`);
    await Promise.all([page.waitForNavigation(), page.click("header a[href='/discover']")]);
    expect(await text(page, "h1")).toBe("Discover");
    expect(await text(page, "#producers")).toBe("Popular producers");
    expect(await axe(page)).toEqual([]);
    await shot(page, "discover-phone");
    await Promise.all([page.waitForNavigation(), page.click("a.genre-link[href='/discover?genre=lofi']")]);
    expect(await text(page, "#genre-loops")).toBe("Loops in lofi");
    expect(await page.$eval("a.genre-link[aria-current='page']", (e) => e.textContent)).toContain("lofi");
    expect(await cards(page)).toBe(10);
    expect(await axe(page)).toEqual([]);
    await shot(page, "discover-genre-phone");
    await Promise.all([page.waitForNavigation(), page.click("a.more")]);
    expect(await cards(page)).toBe(2);
  }, 120_000);

  test("signed in on a desktop: follow a producer you may like; a loop's similar loops; axe clean, no console errors", async () => {
    const page = await chromium.page(DESKTOP, true);
    await signIn(page, server.url, fan.username);
    await page.goto(`${server.url}/discover`);
    expect(await text(page, "#producers")).toBe("Producers you may like");
    const button = "form[action='/@miraloops/follow'] button";
    expect(await page.$eval(button, (e) => e.getAttribute("aria-pressed"))).toBe("false");
    expect(await axe(page)).toEqual([]);
    await shot(page, "discover-desktop");
    const phone = await chromium.page(PHONE, true);
    await signIn(phone, server.url, fan.username);
    await phone.goto(`${server.url}/discover`);
    // On a phone the header's Discover link is its icon, named by its text.
    expect(await phone.$eval("header a[href='/discover'] .nav-icon", (e) => e.getBoundingClientRect().width > 1)).toBe(true);
    expect(await phone.$eval("header a[href='/discover'] .nav-text", (e) => e.getBoundingClientRect().width)).toBeLessThanOrEqual(1);
    expect(await axe(phone)).toEqual([]);
    await shot(phone, "discover-signed-in-phone");
    await phone.close();
    await page.click(button);
    await until(
      "the follow to show",
      () => page.$eval(button, (e) => e.getAttribute("aria-pressed")),
      (v) => v === "true",
    );
    const loop = await page.goto(`${server.url}/l/${first}`);
    expect(loop!.status()).toBe(200);
    // Night Drive has no genre (uploaded without one): no similar loops. A copy has eleven, all by the same producer:
    // six are in "More from", so the other five are the similar loops shown.
    expect(await page.$("#similar-loops")).toBeNull();
    const [copy] = await server.running.deps.database.db.all<{ id: string }>(
      // The newest copy.
      (await import("drizzle-orm")).sql`SELECT id FROM posts WHERE title = 'Night Copy 11'`,
    );
    await page.goto(`${server.url}/l/${copy!.id}`);
    expect(await text(page, "#similar-loops")).toBe("Similar loops");
    expect(await cards(page, "section[aria-labelledby='similar-loops']")).toBe(5);
    expect(await page.$$eval("section[aria-labelledby='similar-loops'] h3", (hs) => hs.map((h) => h.textContent).join())).not.toContain("Night Copy 11");
    expect(await axe(page)).toEqual([]);
    await shot(page, "loop-similar-desktop");
    expect(chromium.errors).toEqual([]);
  }, 120_000);
});

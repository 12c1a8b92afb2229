// Blocking and muting in a real browser (Chromium through puppeteer-core, test/support/chromium.ts), as a person does
// it, buttons found by their accessible names: on a producer's page Mute (the loops leave the home feed) and Unmute,
// Block… opening its confirmation and Block, the blocker's "You blocked" page, then Unblock from the /settings card.
// axe on every page, at phone and desktop sizes; no console errors anywhere.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "puppeteer-core";
import {
  axe,
  CHROMIUM,
  type Chromium,
  DESKTOP,
  findByName,
  launchChromium,
  type Member,
  PHONE,
  signIn,
  startWebServer,
  type WebServer,
} from "../support/chromium.ts";

const run = CHROMIUM ? describe : describe.skip;

let server: WebServer;
let chromium: Chromium;
let mira: Member;
let fan: Member;
let loop: string;

beforeAll(async () => {
  if (!CHROMIUM) return;
  server = await startWebServer();
  chromium = await launchChromium();
  mira = await server.register("mira");
  fan = await server.register("fan");
  loop = await server.uploadLoop(mira, "Night Drive", 2);
}, 120_000);

afterAll(async () => {
  await chromium?.close();
  await server?.stop();
});

/** The element with this accessible name and role (Chromium's accessibility tree, as a screen reader finds it). */
const named = (page: Page, name: string, role = "button") => findByName(page, name, role);

async function clickAndLoad(page: Page, name: string) {
  const el = await named(page, name);
  await el.evaluate((e) => e.scrollIntoView({ block: "center" }));
  await Promise.all([page.waitForNavigation(), el.click()]);
}

async function expectAxeClean(page: Page) {
  expect(await axe(page)).toEqual([]);
}

run("blocking and muting in Chromium", () => {
  for (const [size, viewport] of [
    ["phone", PHONE],
    ["desktop", DESKTOP],
  ] as const) {
    test(`mute, unmute, block with its confirmation, and unblock from /settings (${size})`, async () => {
      const page = await chromium.page(viewport, true);
      await signIn(page, server.url, fan.username);
      await page.goto(`${server.url}/@mira`, { waitUntil: "networkidle0" });
      await expectAxeClean(page);

      // Mute: back on the page, which now offers Unmute; the home feed leaves Mira's loop out.
      await clickAndLoad(page, "Mute @mira");
      expect(new URL(page.url()).pathname).toBe("/@mira");
      await named(page, "Unmute @mira");
      await page.goto(`${server.url}/?tab=global`, { waitUntil: "networkidle0" });
      expect(await page.$(`[data-post="${loop}"]`)).toBeNull();
      await page.goto(`${server.url}/@mira`, { waitUntil: "networkidle0" });
      await clickAndLoad(page, "Unmute @mira");
      await named(page, "Mute @mira");
      await page.goto(`${server.url}/?tab=global`, { waitUntil: "networkidle0" });
      expect(await page.$(`[data-post="${loop}"]`)).not.toBeNull();

      // Block asks first: the confirming button is hidden until "Block @mira…" opens its panel.
      await page.goto(`${server.url}/@mira`, { waitUntil: "networkidle0" });
      const confirm = () => page.$eval("details.confirm", (d) => (d as HTMLDetailsElement).open);
      expect(await confirm()).toBe(false);
      await (await named(page, "Block @mira…", "DisclosureTriangle")).click();
      expect(await confirm()).toBe(true);
      await expectAxeClean(page);
      await clickAndLoad(page, "Block @mira");
      expect(await page.$eval("main", (m) => m.textContent ?? "")).toContain("You blocked @mira.");
      expect(await page.$(`[data-post="${loop}"]`)).toBeNull();
      await expectAxeClean(page);

      // /settings lists the block; Unblock comes back to the card, which is empty again.
      await page.goto(`${server.url}/settings`, { waitUntil: "networkidle0" });
      await expectAxeClean(page);
      await clickAndLoad(page, "Unblock @mira");
      expect(new URL(page.url()).pathname).toBe("/settings");
      const card = await page.$eval("#s-hidden", (h) => h.closest("section")?.textContent ?? "");
      expect(card).toContain("You block nobody.");
      expect(await page.$eval("main", (m) => m.textContent ?? "")).toContain("Unblocked.");
      await page.goto(`${server.url}/@mira`, { waitUntil: "networkidle0" });
      await named(page, "Mute @mira");
      await page.close();
      expect(chromium.errors).toEqual([]);
    }, 120_000);
  }
});

// Reposting in a real browser (Chromium through puppeteer-core, test/support/chromium.ts), as a person does it, the
// button found by its accessible name: on a producer's loop page 🔁 Repost (the page comes back saying it is reposted),
// then a follower's timeline shows "🔁 reposted by @friend" with the quote above the loop's card; 🔁 Reposted takes it
// back. axe on every page, at phone and desktop sizes, screenshots of the timeline for a person to look at
// (/tmp/sidechain-shots/reposts-timeline-*.png); no console errors anywhere.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import type { Page } from "puppeteer-core";
import {
  axe,
  type Chromium,
  CHROMIUM,
  DESKTOP,
  findByName,
  launchChromium,
  type Member,
  PHONE,
  SHOTS,
  signIn,
  startWebServer,
  type WebServer,
} from "../support/chromium.ts";

const run = CHROMIUM ? describe : describe.skip;

let server: WebServer;
let chromium: Chromium;
let mira: Member;
let friend: Member;
let fan: Member;
let loop: string;

beforeAll(async () => {
  if (!CHROMIUM) return;
  mkdirSync(SHOTS, { recursive: true });
  server = await startWebServer();
  chromium = await launchChromium();
  mira = await server.register("mira");
  friend = await server.register("friend");
  fan = await server.register("fan");
  loop = await server.uploadLoop(mira, "Night Drive", 2);
  await server.follow(fan, friend);
}, 120_000);

afterAll(async () => {
  await chromium?.close();
  await server?.stop();
});

async function clickAndLoad(page: Page, name: string) {
  const el = await findByName(page, name);
  await el.evaluate((e) => e.scrollIntoView({ block: "center" }));
  await Promise.all([page.waitForNavigation(), el.click()]);
}

run("reposting in Chromium", () => {
  for (const [size, viewport] of [
    ["phone", PHONE],
    ["desktop", DESKTOP],
  ] as const) {
    test(`repost from the loop page, "reposted by" in a follower's timeline, take it back (${size})`, async () => {
      const page = await chromium.page(viewport, true);
      await signIn(page, server.url, friend.username);
      await page.goto(`${server.url}/l/${loop}`, { waitUntil: "networkidle0" });
      expect(await axe(page)).toEqual([]);
      await clickAndLoad(page, "🔁 Repost");
      expect(new URL(page.url()).pathname).toBe(`/l/${loop}`);
      const pressed = await findByName(page, "🔁 Reposted to your followers");
      expect(await pressed.evaluate((b) => b.getAttribute("aria-pressed"))).toBe("true");
      expect(await axe(page)).toEqual([]);
      await page.close();

      const timeline = await chromium.page(viewport, true);
      await signIn(timeline, server.url, fan.username);
      await timeline.goto(`${server.url}/?tab=timeline`, { waitUntil: "networkidle0" });
      const card = `[data-post="${loop}"]`;
      expect(await timeline.$eval(`${card} .reposted`, (p) => p.textContent ?? "")).toBe("🔁 reposted by @friend");
      expect(await axe(timeline)).toEqual([]);
      await timeline.screenshot({ path: `${SHOTS}/reposts-timeline-${size}.png`, fullPage: true });

      // Taken back: the loop leaves the follower's timeline (they do not follow its producer).
      const again = await chromium.page(viewport, true);
      await signIn(again, server.url, friend.username);
      await again.goto(`${server.url}/l/${loop}`, { waitUntil: "networkidle0" });
      await clickAndLoad(again, "🔁 Reposted to your followers");
      await findByName(again, "🔁 Repost");
      await timeline.goto(`${server.url}/?tab=timeline`, { waitUntil: "networkidle0" });
      expect(await timeline.$(card)).toBeNull();
      await again.close();
      await timeline.close();
      expect(chromium.errors).toEqual([]);
    }, 120_000);
  }
});

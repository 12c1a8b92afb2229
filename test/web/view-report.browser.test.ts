// "Sign in to view" and the Report button in a real browser (Chromium through puppeteer-core, test/support/chromium.ts):
// with the setting on, a stranger who opens a loop's link lands on the sign-in page, which names the community; a
// member signs in, comes back to the loop, plays it (its media through signed URLs) and reports it with the form;
// the report is in the staff's /admin/reports. axe finds nothing serious, the console no error. Screenshots of the
// pages at phone and desktop widths go to /tmp/sidechain-shots/ for a person to look at.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import type { Page } from "puppeteer-core";
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
let owner: Member;
let fan: Member;
let loop: string;

run("sign in to view and Report, in Chromium", () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startWebServer({ INSTANCE_NAME: "Night Shift", INSTANCE_DESCRIPTION: "Loops after dark" });
    owner = await server.register("boss");
    const mira = await server.register("mira");
    fan = await server.register("fan");
    loop = await server.uploadLoop(mira, "Night Drive", 4);
    const set = await fetch(`${server.url}/api/v1/admin/settings`, {
      method: "PUT",
      headers: { authorization: `Bearer ${owner.token}`, "content-type": "application/json" },
      body: JSON.stringify({ sign_in_to_view: true, rules: "Post your own loops.\nBe kind." }),
    });
    expect(set.status).toBe(200);
    chromium = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.stop();
  });

  test("a stranger following a loop's link gets the sign-in page, naming the community and its rules", async () => {
    for (const [name, viewport] of [
      ["phone", PHONE],
      ["desktop", DESKTOP],
    ] as const) {
      const page = await chromium.page(viewport, true);
      await page.goto(`${server.url}/l/${loop}`);
      expect(new URL(page.url()).pathname).toBe("/signin");
      const text = await page.$eval("main", (m) => m.textContent ?? "");
      expect(text).toContain("Loops after dark");
      expect(text).toContain("Be kind.");
      expect(text).not.toContain("Night Drive");
      expect(await page.title()).toContain("Night Shift");
      expect(await axe(page)).toEqual([]);
      await page.screenshot({ path: `${SHOTS}/view-signin-${name}.png`, fullPage: true });
      await page.close();
    }
  }, 120_000);

  test("a member signs in, comes back to the loop, plays it and reports it; the staff see the report", async () => {
    const page = await chromium.page(PHONE, true);
    await page.goto(`${server.url}/l/${loop}`);
    await page.type('input[name="login"]', fan.username);
    await page.type('input[name="password"]', "correct horse battery staple");
    await Promise.all([page.waitForNavigation(), page.click('form[action="/signin"] button[type="submit"]')]);
    expect(new URL(page.url()).pathname).toBe(`/l/${loop}`);

    await page.click('button[aria-label="Play Night Drive"]');
    const state = () =>
      page.evaluate(() => {
        const a = document.querySelector<HTMLAudioElement>("audio[data-shared-audio]");
        return a ? { t: a.currentTime, src: a.currentSrc } : null;
      });
    const playing = await until("playback", state, (s) => Boolean(s && s.t > 0.3));
    expect(playing!.src).toMatch(/\/media\/.+\?exp=\d+&sig=/);

    await report(page);
    await page.close();

    const staff = await chromium.page(DESKTOP, true);
    await signIn(staff, server.url, owner.username);
    await staff.goto(`${server.url}/admin/reports`);
    const queue = await staff.$eval("main", (m) => m.textContent ?? "");
    expect(queue).toContain("Night Drive");
    expect(queue).toContain("copyright");
    expect(queue).toContain("It is my sample pack.");
    await staff.close();

    // The producer's profile at desktop width, Report open.
    const wide = await chromium.page(DESKTOP, true);
    await signIn(wide, server.url, fan.username);
    await wide.goto(`${server.url}/@mira`);
    await wide.click("details.report summary");
    expect(await wide.$eval("details.report legend", (l) => l.textContent)).toBe("Why are you reporting @mira?");
    expect(await axe(wide)).toEqual([]);
    await wide.screenshot({ path: `${SHOTS}/view-report-profile-desktop.png`, fullPage: true });
    await wide.goto(`${server.url}/l/${loop}`);
    await wide.click("details.report summary");
    await wide.screenshot({ path: `${SHOTS}/view-report-desktop.png`, fullPage: true });
    await wide.close();
    expect(chromium.errors).toEqual([]);
  }, 180_000);
});

/** Opens Report on the loop's page, picks a reason, writes a note and sends it; screenshots the open form. */
async function report(page: Page) {
  // Each control scrolled to the middle of the screen first: the fixed player bar covers the bottom.
  const press = async (selector: string) => {
    await page.$eval(selector, (e) => e.scrollIntoView({ block: "center" }));
    await page.click(selector);
  };
  await press("details.report summary");
  await press('input[name="reason"][value="copyright"]');
  await press('textarea[name="note"]');
  await page.keyboard.type("It is my sample pack.");
  expect(await axe(page)).toEqual([]);
  await page.screenshot({ path: `${SHOTS}/view-report-phone.png`, fullPage: true });
  await page.$eval('form[action="/report"] button[type="submit"]', (e) => e.scrollIntoView({ block: "center" }));
  await Promise.all([page.waitForNavigation(), page.click('form[action="/report"] button[type="submit"]')]);
  expect(await page.$eval("h1", (h) => h.textContent)).toBe("Report sent");
  expect(await axe(page)).toEqual([]);
  await page.screenshot({ path: `${SHOTS}/view-report-sent-phone.png` });
}

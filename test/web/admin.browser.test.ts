// The staff's /admin pages in a real browser (Chromium through puppeteer-core, test/support/chromium.ts), as an owner
// uses them: the header's 🛡 link, a report closed by removing the loop, an account suspended (its owner then sees the
// reason at sign-in), the community renamed and closed to sign-ups. axe on every admin page at phone and desktop
// widths, screenshots of both for a person to look at (/tmp/sidechain-shots/admin-*.png); no console errors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import type { ElementHandle, Page } from "puppeteer-core";
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
  type WebServer,
} from "../support/chromium.ts";

const run = CHROMIUM ? describe : describe.skip;

let server: WebServer;
let chromium: Chromium;
let maya: Member;
let loop: string;

beforeAll(async () => {
  if (!CHROMIUM) return;
  server = await startWebServer();
  await server.register("boss"); // the first account: the owner
  maya = await server.register("maya");
  loop = await server.uploadLoop(maya, "Borrowed chords", 2);
  const fan = await server.register("fan");
  const filed = await fetch(`${server.url}/api/v1/reports`, {
    method: "POST",
    headers: { authorization: `Bearer ${fan.token}`, "content-type": "application/json" },
    body: JSON.stringify({ target_type: "post", target_id: loop, reason: "copyright", note: "That's my sample" }),
  });
  if (filed.status !== 201) throw new Error(`report: ${filed.status}`);
  chromium = await launchChromium();
  mkdirSync(SHOTS, { recursive: true });
}, 120_000);
afterAll(async () => {
  await chromium?.close();
  await server?.stop();
});

/** Clicks the button whose accessible name (aria-label, else its text) is `name`, and waits for the page it leads to. */
async function submitWith(page: Page, name: string) {
  const found = await page.evaluateHandle(
    (n) => Array.from(document.querySelectorAll("button")).find((b) => (b.getAttribute("aria-label") ?? b.textContent?.trim()) === n) ?? null,
    name,
  );
  const button = found.asElement() as ElementHandle<Element> | null;
  if (!button) throw new Error(`no button named ${name}`);
  await button.evaluate((e) => e.scrollIntoView({ block: "center" }));
  await Promise.all([page.waitForNavigation(), button.click()]);
}

const text = (page: Page, selector: string) => page.$eval(selector, (e) => (e as HTMLElement).textContent ?? "");

/** No console errors but the one a refused page's status makes Chromium log (a 403 is that page's answer); clears them. */
function expectOnly(expected: RegExp) {
  const errors = chromium.errors.splice(0);
  expect(errors.filter((e) => !expected.test(e))).toEqual([]);
  expect(errors.length).toBeGreaterThan(0);
}

run("/admin in Chromium", () => {
  test("every section is reachable from the header, accessible, and looks right at phone and desktop widths", async () => {
    for (const [name, viewport] of [
      ["phone", PHONE],
      ["desktop", DESKTOP],
    ] as const) {
      const page = await chromium.page(viewport, true);
      await signIn(page, server.url, "boss");
      await page.goto(`${server.url}/`);
      const link = await page.$('header a[href="/admin"]');
      if (!link) throw new Error("no admin link in the header");
      await Promise.all([page.waitForNavigation(), link.click()]);
      expect(await text(page, "h1")).toBe("Overview");
      for (const [path, heading] of [
        ["/admin", "Overview"],
        ["/admin/users", "Accounts"],
        ["/admin/reports", "Open reports"],
        ["/admin/settings", "Settings"],
        ["/admin/jobs", "Failed jobs"],
        ["/admin/mail", "Mail"],
        ["/admin/audit", "Audit log"],
      ]) {
        await page.goto(`${server.url}${path}`);
        expect((await text(page, "h1")).startsWith(heading)).toBe(true);
        expect(await axe(page)).toEqual([]);
        // Nothing wider than the screen: the tabs and forms wrap on a phone.
        expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
        if (path === "/admin" || path === "/admin/reports" || path === "/admin/settings") {
          await page.screenshot({ path: `${SHOTS}/admin-${path.split("/")[2] ?? "overview"}-${name}.png`, fullPage: true });
        }
      }
      await page.close();
    }
    expect(chromium.errors).toEqual([]);
  }, 120_000);

  test("the owner closes a report by removing the loop; the loop is gone for everyone else", async () => {
    const page = await chromium.page(DESKTOP, true);
    await signIn(page, server.url, "boss");
    await page.goto(`${server.url}/admin/reports`);
    expect(await page.content()).toContain("That's my sample");
    const id = await page.$eval('select[name="action"]', (e) => e.id);
    await page.select(`#${id}`, "remove_loop");
    await page.type(`#${id.replace("action-", "note-")}`, "Uses an uncleared sample.");
    await submitWith(page, "Close the report about Borrowed chords");
    expect(await text(page, '[role="status"]')).toBe("Report closed.");
    expect((await fetch(`${server.url}/api/v1/posts/${loop}`)).status).toBe(404);
    await page.close();
    expect(chromium.errors).toEqual([]);
  }, 60_000);

  test("the owner suspends an account with a reason; its owner is shown the reason when signing in", async () => {
    const page = await chromium.page(DESKTOP, true);
    await signIn(page, server.url, "boss");
    await page.goto(`${server.url}/admin/users?q=maya`);
    await page.type(`#why-${maya.id}`, "Repeated uncleared samples");
    await submitWith(page, "Suspend @maya");
    expect(await text(page, '[role="status"]')).toBe("Account suspended.");
    const visitor = await chromium.page(PHONE, true);
    await signIn(visitor, server.url, "maya");
    expect(await text(visitor, '[role="alert"]')).toContain("Repeated uncleared samples");
    await page.close();
    await visitor.close();
    expectOnly(/status of 403 \(Forbidden\) \(http:\/\/localhost:\d+\/signin\)$/);
  }, 60_000);

  test("the owner renames the community and closes sign-ups: the header and /register follow at once", async () => {
    const page = await chromium.page(DESKTOP, true);
    await signIn(page, server.url, "boss");
    await page.goto(`${server.url}/admin/settings`);
    await page.$eval("#name", (e) => ((e as HTMLInputElement).value = ""));
    await page.type("#name", "Night Shift");
    await page.select("#registration", "closed");
    await submitWith(page, "Save settings");
    expect(await text(page, '[role="status"]')).toBe("Settings saved.");
    expect(await text(page, "header .brand")).toBe("Night Shift");
    const visitor = await chromium.page(PHONE, true);
    await visitor.goto(`${server.url}/register`);
    expect(await visitor.content()).toContain("does not accept new accounts");
    await page.close();
    await visitor.close();
    expectOnly(/status of 403 \(Forbidden\) \(http:\/\/localhost:\d+\/register\)$/);
  }, 60_000);
});

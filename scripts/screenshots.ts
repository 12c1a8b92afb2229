// Screenshots of the web app for a person to look at (not a test): a fresh server with real loops, the home page
// anonymous and signed in (playing a loop, so the bar shows), then every other page (loop, profile, embed, upload,
// notifications, settings, saved loops, sign-in, register, and the staff's /admin pages), at phone (390×844) and desktop (1280×800) sizes, and a loop's share
// card, in /tmp/sidechain-shots/, with axe's serious and critical findings per page printed. Run: bun scripts/screenshots.ts
import { mkdirSync } from "node:fs";
import { axe, DESKTOP, launchChromium, PHONE, signIn, startWebServer } from "../test/support/chromium.ts";

const OUT = "/tmp/sidechain-shots";
mkdirSync(OUT, { recursive: true });
const server = await startWebServer();
const chromium = await launchChromium();
try {
  const mira = await server.register("mira");
  const fan = await server.register("fan");
  const drive = await server.uploadLoop(mira, "Night Drive", 4);
  for (let i = 1; i <= 11; i++) await server.copyLoop(mira, drive, `Drive take ${i}`);
  await server.uploadLoop(mira, "Dawn Chorus", 3);
  await fetch(`${server.url}/api/v1/posts/${drive}/save`, { method: "POST", headers: { authorization: `Bearer ${fan.token}` } });
  for (const [name, viewport] of [
    ["phone", PHONE],
    ["desktop", DESKTOP],
  ] as const) {
    const anonymous = await chromium.page(viewport, true);
    await anonymous.goto(`${server.url}/`, { waitUntil: "networkidle0" });
    await anonymous.screenshot({ path: `${OUT}/home-anonymous-${name}.png` });
    await anonymous.close();
    const page = await chromium.page(viewport, true);
    await signIn(page, server.url, fan.username);
    await page.goto(`${server.url}/`, { waitUntil: "networkidle0" });
    await page.click('button[aria-label="Play Dawn Chorus"]');
    await page.waitForFunction(() => (document.querySelector<HTMLAudioElement>("audio[data-shared-audio]")?.currentTime ?? 0) > 1, { timeout: 60_000 });
    await page.screenshot({ path: `${OUT}/home-playing-${name}.png` });
    await page.screenshot({ path: `${OUT}/home-playing-${name}-full.png`, fullPage: true });
    // Every other page, signed in (the account pages signed out).
    for (const [shot, path] of [
      ["loop", `/l/${drive}`],
      ["profile", "/@mira"],
      ["embed", `/embed/l/${drive}`],
      ["upload", "/upload"],
      ["notifications", "/notifications"],
      ["settings", "/settings"],
      ["saved", "/saved"],
    ] as const) {
      await page.goto(`${server.url}${path}`, { waitUntil: "networkidle0" });
      await page.screenshot({ path: `${OUT}/${shot}-${name}.png`, fullPage: true });
      const found = await axe(page);
      console.log(`${shot} (${name}): axe ${found.length ? found.map((v) => `${v.impact} ${v.id}`).join(", ") : "no serious or critical violation"}`);
    }
    await page.close();
    const visitor = await chromium.page(viewport, true);
    for (const [shot, path] of [
      ["signin", "/signin"],
      ["register", "/register"],
    ] as const) {
      await visitor.goto(`${server.url}${path}`, { waitUntil: "networkidle0" });
      await visitor.screenshot({ path: `${OUT}/${shot}-${name}.png`, fullPage: true });
      const found = await axe(visitor);
      console.log(`${shot} (${name}): axe ${found.length ? found.map((v) => `${v.impact} ${v.id}`).join(", ") : "no serious or critical violation"}`);
    }
    await visitor.close();
    // The staff's pages, as the owner (mira signed up first).
    const staff = await chromium.page(viewport, true);
    await signIn(staff, server.url, mira.username);
    for (const [shot, path] of [
      ["admin", "/admin"],
      ["admin-users", "/admin/users"],
      ["admin-reports", "/admin/reports"],
      ["admin-settings", "/admin/settings"],
      ["admin-audit", "/admin/audit"],
    ] as const) {
      await staff.goto(`${server.url}${path}`, { waitUntil: "networkidle0" });
      await staff.screenshot({ path: `${OUT}/${shot}-${name}.png`, fullPage: true });
      const found = await axe(staff);
      console.log(`${shot} (${name}): axe ${found.length ? found.map((v) => `${v.impact} ${v.id}`).join(", ") : "no serious or critical violation"}`);
    }
    await staff.close();
  }
  // The share card a link to Night Drive unfurls into (og:image), as chat apps and social sites fetch it.
  const page = await (await fetch(`${server.url}/l/${drive}`)).text();
  const card = /<meta property="og:image" content="([^"]+)"/.exec(page)?.[1];
  if (card) await Bun.write(`${OUT}/share-card.png`, await fetch(new URL(new URL(card).pathname, server.url)));
  if (chromium.errors.length) console.error(chromium.errors.join("\n"));
  console.log(`screenshots in ${OUT}`);
} finally {
  await chromium.close();
  await server.stop();
}

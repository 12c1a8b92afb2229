// Screenshots of the web app for a person to look at (not a test): a fresh server with real loops, the home page
// anonymous and signed in (playing a loop, so the bar shows), at phone (390×844) and desktop (1280×800) sizes, in
// /tmp/sidechain-shots/. Run: bun scripts/screenshots.ts
import { mkdirSync } from "node:fs";
import { DESKTOP, launchChromium, PHONE, signIn, startWebServer } from "../test/support/chromium.ts";

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
    await page.close();
  }
  if (chromium.errors.length) console.error(chromium.errors.join("\n"));
  console.log(`screenshots in ${OUT}`);
} finally {
  await chromium.close();
  await server.stop();
}

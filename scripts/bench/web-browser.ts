// The web app in a real browser (README "Benchmarks"): a fresh server with real loops (test/support/chromium.ts),
//  1. click to sound: in Debian's Chromium, the time from pressing a loop's play button (the trusted pointerdown,
//     the start of a click, taken in the page) to the shared <audio>'s `playing` event, over 20 loops on `/`, each
//     its own upload played once (so no MP3 comes from the browser's cache), median and worst (target: median ≤ 100 ms);
//  2. Lighthouse 12.2.3 (mobile defaults: simulated slow 4G and a 4× slower CPU) on `/`, a loop page and a profile,
//     as an anonymous visitor: performance, accessibility and best practices (target ≥ 95 each).
// Lighthouse runs on Node (its CLI), with CHROME_PATH pointing at the same Chromium. Usage: bun scripts/bench/web-browser.ts
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CHROMIUM, launchChromium, PHONE, startWebServer } from "../../test/support/chromium.ts";
import { machine, ROOT } from "./lib.ts";

if (!CHROMIUM) throw new Error("chromium is not installed (apt-get install chromium)");
const PLAYS = 20;
const server = await startWebServer();
const chromium = await launchChromium();
try {
  const mira = await server.register("mira");
  const first = await server.uploadLoop(mira, "Night Drive", 4);
  for (let i = 1; i < PLAYS; i++) await server.uploadLoop(mira, `Take ${i}`, 2);

  // 1. Click to sound.
  const page = await chromium.page(PHONE, true);
  await page.goto(`${server.url}/?tab=global`, { waitUntil: "networkidle0" });
  // All 20 on one page: the first page holds 10, "More loops" (infinite scroll) brings the rest.
  while ((await page.$$("[data-player] button[data-play]")).length < PLAYS) {
    await page.evaluate(() => document.querySelector("a[data-more]")?.scrollIntoView());
    await page.waitForNetworkIdle();
  }
  await page.evaluate(() => {
    const w = window as unknown as { __clicked: number; __playing: number };
    document.addEventListener("pointerdown", (e) => void (w.__clicked = e.timeStamp), true);
    // Media events do not bubble; a capturing listener on the document hears the shared <audio>'s.
    document.addEventListener("playing", (e) => void (w.__playing = e.timeStamp), true);
  });
  const buttons = await page.$$("[data-player] button[data-play]");
  const times: number[] = [];
  for (let i = 0; i < PLAYS; i++) {
    const button = buttons[i]!;
    await button.scrollIntoView();
    await page.evaluate(() => void ((window as unknown as { __playing: number }).__playing = -1));
    await button.click();
    await page.waitForFunction(() => (window as unknown as { __playing: number }).__playing >= 0, { timeout: 10_000 });
    times.push(await page.evaluate(() => ((w) => w.__playing - w.__clicked)(window as unknown as { __clicked: number; __playing: number })));
    await page.keyboard.press("Space"); // pause before the next one
  }
  times.sort((a, b) => a - b);
  const median = (times[PLAYS / 2 - 1]! + times[PLAYS / 2]!) / 2;
  console.log(`machine: ${machine()}`);
  console.log(
    `click to sound, ${PLAYS} loops each played once: median ${median.toFixed(1)} ms, fastest ${times[0]!.toFixed(1)} ms, slowest ${times.at(-1)!.toFixed(1)} ms (target: median ≤ 100 ms)`,
  );
  await page.close();

  // 2. Lighthouse.
  const out = mkdtempSync(join(tmpdir(), "sc-lighthouse-"));
  const flags = "--headless=new --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run";
  for (const [name, path] of [
    ["/", "/"],
    ["/l/{id}", `/l/${first}`],
    ["/@{username}", "/@mira"],
  ] as const) {
    const report = join(out, "report.json");
    const proc = Bun.spawn(
      [
        "node",
        join(ROOT, "node_modules/lighthouse/cli/index.js"),
        `${server.url}${path}`,
        "--only-categories=performance,accessibility,best-practices",
        "--output=json",
        `--output-path=${report}`,
        `--chrome-flags=${flags}`,
        "--quiet",
      ],
      { env: { ...process.env, CHROME_PATH: CHROMIUM }, stdout: "ignore", stderr: "pipe" },
    );
    const code = await proc.exited;
    if (code !== 0) throw new Error(`lighthouse ${path}: exit ${code}: ${(await new Response(proc.stderr).text()).slice(-800)}`);
    const r = JSON.parse(readFileSync(report, "utf8"));
    const score = (c: string) => Math.round((r.categories[c]?.score ?? 0) * 100);
    const failing = Object.values(r.audits as Record<string, { id: string; score: number | null; scoreDisplayMode: string }>)
      .filter((a) => a.score !== null && a.score < 0.9 && a.scoreDisplayMode !== "informative" && a.scoreDisplayMode !== "notApplicable")
      .map((a) => a.id);
    console.log(
      `lighthouse ${name.padEnd(13)} performance ${score("performance")}, accessibility ${score("accessibility")}, best practices ${score("best-practices")} (target ≥ 95 each); FCP ${r.audits["first-contentful-paint"].displayValue}, LCP ${r.audits["largest-contentful-paint"].displayValue}, TBT ${r.audits["total-blocking-time"].displayValue}, CLS ${r.audits["cumulative-layout-shift"].displayValue}${failing.length ? `; below 0.9: ${failing.join(", ")}` : ""}`,
    );
  }
  rmSync(out, { recursive: true, force: true });
  if (chromium.errors.length) console.log(`browser errors: ${chromium.errors.join(" | ")}`);
} finally {
  await chromium.close();
  await server.stop();
}

// The web app's flows in a real browser (Chromium through puppeteer-core, test/support/chromium.ts), each step as a
// person does it: fields found by their labels, buttons by their accessible names. Registering, reacting and
// following without a page load (the counts agree with the API), uploading a WAV through the upload page to a loop
// that plays, and sharing: the loop page's unfurl tags, the embed player alone, and the embed framed by another
// origin while the loop page itself refuses to be framed. axe on every page; no console errors anywhere.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ElementHandle, Frame, Page } from "puppeteer-core";
import { lavfi, signals } from "../support/audio.ts";
import {
  axe,
  CHROMIUM,
  type Chromium,
  DESKTOP,
  findByName,
  launchChromium,
  type Member,
  PASSWORD,
  startWebServer,
  until,
  type WebServer,
} from "../support/chromium.ts";
import { freePort } from "../support/net.ts";

const run = CHROMIUM ? describe : describe.skip;

let server: WebServer;
let chromium: Chromium;
let page: Page;
let mira: Member;
let drive: string;
let uploaded: string;
let files: string;
const TITLE = "Browser Upload";

/** The element whose accessible name and role are these, under `root` (default: the whole page): findByName. */
const byName = (name: string, role = "button", root: Page | ElementHandle<Element> = page) => findByName(root, name, role);

/** Scrolls to the middle of the screen (the fixed player bar covers the bottom), then clicks. */
async function press(el: ElementHandle<Element>) {
  await el.evaluate((e) => e.scrollIntoView({ block: "center" }));
  await el.click();
}

async function typeInto(label: string, text: string) {
  const field = await byName(label, "textbox");
  await field.click();
  await field.type(text);
}

const setMarker = (p: Page) =>
  p.evaluate(() => {
    (window as unknown as { marker: number }).marker = 42;
  });
const marker = (p: Page) => p.evaluate(() => (window as unknown as { marker?: number }).marker);

const audioState = (p: Page | Frame) =>
  p.evaluate(() => {
    const a = document.querySelector<HTMLAudioElement>("audio[data-shared-audio]");
    return a ? { t: a.currentTime, paused: a.paused, src: a.currentSrc } : null;
  });

const playing = (p: Page | Frame) =>
  until(
    "playback",
    () => audioState(p),
    (s) => Boolean(s && s.t > 0.3 && !s.paused),
  );

const api = async <T>(path: string, token?: string) => {
  const res = await fetch(`${server.url}/api/v1${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return (await res.json()) as T;
};

run("the web app's flows in Chromium", () => {
  beforeAll(async () => {
    files = mkdtempSync(join(tmpdir(), "sc-flows-"));
    server = await startWebServer();
    mira = await server.register("mira");
    drive = await server.uploadLoop(mira, "Night Drive", 3);
    chromium = await launchChromium();
    page = await chromium.page();
  }, 300_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.stop();
    if (files) rmSync(files, { recursive: true, force: true });
  });

  test("registering through /register lands on / signed in", async () => {
    await page.goto(`${server.url}/register`);
    expect(await axe(page)).toEqual([]);
    await typeInto("Email", "fan@example.com");
    await typeInto("Username", "fan");
    await typeInto("Password", PASSWORD);
    await typeInto("Display name (optional)", "Fan Club");
    await Promise.all([page.waitForNavigation(), (await byName("Create account")).click()]);
    expect(new URL(page.url()).pathname).toBe("/");
    expect(await page.$eval('a[aria-label="Your profile"]', (a) => a.getAttribute("href"))).toBe("/@fan");
    // A new account follows nobody: its timeline is the global feed, with mira's loop.
    expect(await page.$(`li.card.loop[data-post="${drive}"]`)).not.toBeNull();
    expect(await axe(page)).toEqual([]);
  }, 120_000);

  test("🔥 on a card counts 1 in place without a page load, the API agrees, and pressing again takes it back", async () => {
    await setMarker(page);
    const card = (await page.$(`li.card.loop[data-post="${drive}"]`))!;
    await press(await byName("🔥", "button", card));
    const fire = `li.card.loop[data-post="${drive}"] button[data-emoji="🔥"]`;
    await until(
      "the count",
      () => page.$eval(fire, (b) => [b.querySelector(".count")!.textContent, b.getAttribute("aria-pressed")]),
      ([n, pressed]) => n === "1" && pressed === "true",
    );
    expect(await marker(page)).toBe(42);
    expect((await api<{ reaction_counts: Record<string, number> }>(`/posts/${drive}`)).reaction_counts["🔥"]).toBe(1);
    // Its accessible name now carries the count.
    await press(await byName("🔥 1", "button", card));
    await until(
      "the count back to nothing",
      () => page.$eval(fire, (b) => [b.querySelector(".count")!.textContent, b.getAttribute("aria-pressed")]),
      ([n, pressed]) => n === "" && pressed === "false",
    );
    expect(await marker(page)).toBe(42);
    expect((await api<{ reaction_counts: Record<string, number> }>(`/posts/${drive}`)).reaction_counts["🔥"] ?? 0).toBe(0);
  }, 120_000);

  test("Follow mira on her page: pressed, 1 follower, without a page load; pressing again unfollows", async () => {
    await page.goto(`${server.url}/@mira`);
    expect(await axe(page)).toEqual([]);
    await setMarker(page);
    const followers = async () => (await api<{ users: { username: string }[] }>(`/users/${mira.id}/followers`, mira.token)).users.map((u) => u.username);
    const state = () => page.$eval('form[data-follow="mira"] button', (b) => [b.getAttribute("aria-pressed"), b.textContent]);
    const count = () => page.$eval('[data-follower-count="mira"]', (e) => e.textContent);
    expect(await state()).toEqual(["false", "Follow"]);
    expect(await count()).toBe("0");
    await press(await byName("Follow mira"));
    await until("following", state, ([p, t]) => p === "true" && t === "Follow");
    expect(await count()).toBe("1");
    expect(await marker(page)).toBe(42);
    expect(await followers()).toEqual(["fan"]);
    // Pressed shows as a check mark the stylesheet draws, outside the name (byName above found "Follow mira").
    expect(await page.$eval('form[data-follow="mira"] button', (b) => getComputedStyle(b, "::before").content)).toBe('"✓ " / ""');
    expect(await axe(page)).toEqual([]);
    await press(await byName("Follow mira"));
    await until("not following", state, ([p, t]) => p === "false" && t === "Follow");
    expect(await count()).toBe("0");
    expect(await marker(page)).toBe(42);
    expect(await followers()).toEqual([]);
  }, 120_000);

  test("uploading a WAV on /upload reaches ready, and Open your loop leads to a loop page that plays", async () => {
    const wav = await lavfi(join(files, "browser-upload.wav"), signals.produced(3), ["-c:a", "pcm_s16le"]);
    await page.goto(`${server.url}/upload`);
    expect(await axe(page)).toEqual([]);
    const input = (await page.$('input[type="file"][name="audio_file"]')) as ElementHandle<HTMLInputElement>;
    await input.uploadFile(wav);
    await until(
      "the chosen file",
      () => page.$eval("[data-chosen]", (e) => e.textContent ?? ""),
      (t) => t.startsWith("browser-upload.wav · "),
    );
    await typeInto("Title", TITLE);
    await typeInto("BPM", "120");
    await press(await byName("Upload"));
    await until(
      "ready",
      () => page.$eval("[data-progress-text]", (e) => e.textContent),
      (t) => t === "Your loop is ready.",
      60_000,
    );
    expect(await page.$eval("[data-upload-done]", (e) => (e as HTMLElement).hidden)).toBe(false);
    expect(await page.$eval("[data-progress]", (e) => (e as HTMLProgressElement).value)).toBe(100);
    expect(await page.$eval("[data-upload-error]", (e) => e.textContent)).toBe("");
    expect(await axe(page)).toEqual([]);
    await press(await byName("Open your loop", "link"));
    const path = await until(
      "the loop page",
      () => page.evaluate(() => location.pathname),
      (p) => /^\/l\/[^/]+$/.test(p) && p !== `/l/${drive}`,
    );
    uploaded = path.slice(3);
    await until(
      "the loop page's heading",
      () => page.$eval("h1", (h) => h.textContent),
      (t) => t === TITLE,
    );
    const post = await api<{ status: string; filename: string; username: string }>(`/posts/${uploaded}`);
    expect(post).toMatchObject({ status: "ready", filename: TITLE, username: "fan" });
    await press(await byName(`Play ${TITLE}`));
    await playing(page);
    expect(await axe(page)).toEqual([]);
  }, 180_000);

  test("the loop page carries its unfurl tags; the embed plays alone", async () => {
    const loop = `${server.url}/l/${uploaded}`;
    await page.goto(loop);
    const meta = (key: string) => page.$eval(`meta[property="${key}"], meta[name="${key}"]`, (m) => m.getAttribute("content"));
    expect(await meta("og:title")).toBe(TITLE);
    expect(await meta("og:audio")).toMatch(/^http:\/\/localhost:\d+\/media\/.+\.mp3$/);
    expect(await meta("og:audio:type")).toBe("audio/mpeg");
    expect(await meta("twitter:card")).toBe("player");
    expect(await meta("twitter:player")).toBe(`${server.url}/embed/l/${uploaded}`);
    // The MP3 the tags point at is served.
    const mp3 = await fetch((await meta("og:audio"))!);
    expect(mp3.status).toBe(200);
    expect(mp3.headers.get("content-type")).toBe("audio/mpeg");
    await mp3.arrayBuffer();

    const embed = await chromium.page(DESKTOP, true);
    await embed.goto(`${server.url}/embed/l/${uploaded}`);
    expect(await axe(embed)).toEqual([]);
    await (await byName(`Play ${TITLE}`, "button", embed)).click();
    await playing(embed);
    await embed.close();
  }, 120_000);

  test("another origin may frame the embed, and it plays there; the loop page refuses to be framed", async () => {
    const port = await freePort();
    const host = Bun.serve({
      port,
      hostname: "127.0.0.1",
      fetch(req) {
        const src = new URL(req.url).searchParams.get("src") ?? "";
        return new Response(`<!doctype html><html lang="en"><title>A blog</title><iframe title="loop" src="${src}" width="480" height="120"></iframe></html>`, {
          headers: { "content-type": "text/html" },
        });
      },
    });
    try {
      const hostUrl = (src: string) => `http://127.0.0.1:${port}/?src=${encodeURIComponent(src)}`;
      const framed = async (p: Page) => {
        await until(
          "the frame",
          async () => p.frames().length,
          (n) => n === 2,
        );
        return p.frames().find((f) => f !== p.mainFrame())!;
      };

      const blog = await chromium.page(DESKTOP, true);
      const embedSrc = `${server.url}/embed/l/${uploaded}`;
      await blog.goto(hostUrl(embedSrc), { waitUntil: "networkidle0" });
      const frame = await framed(blog);
      expect(frame.url()).toBe(embedSrc);
      const play = await until(
        "the framed play button",
        () => frame.$(`button[aria-label="Play ${TITLE}"]`),
        (b) => b !== null,
      );
      await play!.click();
      await playing(frame);
      await blog.close();

      // The loop page answers frame-ancestors 'none' (and X-Frame-Options: DENY): Chromium shows its error page in
      // the frame and says why on the host page's console. That page's console is collected here, not as an error.
      const refused = await chromium.browser.createBrowserContext().then((c) => c.newPage());
      const said: string[] = [];
      refused.on("console", (m) => said.push(m.text()));
      await refused.goto(hostUrl(`${server.url}/l/${uploaded}`), { waitUntil: "networkidle0" });
      const blocked = await framed(refused);
      await until(
        "the refusal",
        async () => said.join("\n"),
        (s) => s.includes("frame-ancestors 'none'"),
      );
      expect(blocked.url()).toBe("chrome-error://chromewebdata/");
      expect(await blocked.$("[data-play]").catch(() => null)).toBeNull();
      expect(await blocked.evaluate(() => document.querySelector("h1")?.textContent ?? null).catch(() => null)).not.toBe(TITLE);
      await refused.close();
    } finally {
      host.stop(true);
    }
  }, 120_000);

  test("no console errors or page errors anywhere above", () => {
    expect(chromium.errors).toEqual([]);
  });
});

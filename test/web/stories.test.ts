// Stories in the web app without JavaScript (README "Stories"): the home page's row (your entry, then producers
// you follow with stories you have not heard), the story form at /stories/new (multipart, CSRF first, the same
// checks as the API's POST /stories), a producer's stories page with plain <audio> and its "Mark as heard" form,
// and the refusals: a forged form, a stranger's page, a signed-out visitor. Real ffmpeg, a real SQLite file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stories } from "../../src/db/schema.ts";
import { registerJobHandlers } from "../../src/index.ts";
import { lavfi, signals } from "../support/audio.ts";
import { registerProducer, type Producer } from "../support/auth.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertFollow } from "../support/ready-posts.ts";

const work = mkdtempSync(join(tmpdir(), "sc-web-stories-"));
let env: TestEnv;
let wav: Uint8Array<ArrayBuffer>;
let mira: Producer;
let fan: Producer;
let stranger: Producer;

async function browserOf(who: Producer) {
  const b = new Browser(env);
  await b.submit(await b.get("/signin"), { login: who.username, password: "correct horse battery staple" });
  return b;
}

/** The story form sent as a browser sends it: csrf first, then the title, then the file. */
function storyForm(csrf: string, bytes: Uint8Array<ArrayBuffer>, title = "Sketch") {
  const f = new FormData();
  f.set("csrf", csrf);
  f.set("filename", title);
  f.set("audio", new Blob([bytes]), "sketch.wav");
  return f;
}

beforeAll(async () => {
  env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost", JOB_POLL_MS: "20" });
  registerJobHandlers(env.deps);
  await env.deps.jobs.start();
  wav = new Uint8Array(readFileSync(await lavfi(join(work, "s.wav"), signals.drums(3), ["-c:a", "pcm_s16le", "-f", "wav"])));
  [mira, fan, stranger] = [await registerProducer(env), await registerProducer(env), await registerProducer(env)];
  await insertFollow(env, fan.id, mira.id);
}, 60_000);
afterAll(async () => {
  await env?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("stories in the web app", () => {
  let storyId: string;

  test("the home row offers to add a story; the form posts one through the API's checks and shows it", async () => {
    const b = await browserOf(mira);
    const home = await b.get("/");
    expect(home.html).toContain('href="/stories/new" data-own-story');
    const form = await b.get("/stories/new");
    expect(form.status).toBe(200);
    expect(form.html).toContain('name="audio"');
    // A forged token, and a file that is not audio: refused with the reason, nothing written.
    const forged = await b.fetch("/stories/new", { method: "POST", body: storyForm("forged", wav) });
    expect(forged.status).toBe(403);
    const notAudio = await b.fetch("/stories/new", { method: "POST", body: storyForm(csrfOf(form), new TextEncoder().encode("x".repeat(500))) });
    expect(notAudio.status).toBe(415);
    expect(notAudio.html).toContain("not audio we accept");
    expect(await env.deps.database.db.select().from(stories)).toEqual([]);
    const posted = await b.fetch("/stories/new", { method: "POST", body: storyForm(csrfOf(form), wav, "Night sketch") });
    expect(posted.url).toBe(`/stories/u/${mira.id}`);
    expect(posted.html).toContain("Night sketch");
    expect(posted.html).toContain("Heard by 0 people");
    const [row] = await env.deps.database.db.select().from(stories);
    storyId = row!.id;
    expect(row).toMatchObject({ userId: mira.id, status: "ready", title: "Night sketch" });
    expect((await b.get("/")).html).toContain(`href="/stories/u/${mira.id}" data-own-story`);
  }, 60_000);

  test("a follower sees the producer in the row, opens the page, and 'Mark as heard' records the view once", async () => {
    const b = await browserOf(fan);
    expect((await b.get("/")).html).toContain(`data-story-group="${mira.id}"`);
    const page = await b.get(`/stories/u/${mira.id}`);
    expect(page.html).toContain(`data-story-view="/stories/${storyId}/view"`);
    expect(page.html).toMatch(/<audio controls="" preload="none" src="http:\/\/localhost\/media\/stories\/[^"]+\.mp3"/);
    expect(page.html).toContain(`<form method="post" action="/stories/${storyId}/view">`);
    const heard = await b.post(`/stories/${storyId}/view`, { csrf: csrfOf(page), producer: mira.id }, false);
    expect(heard.status).toBe(303);
    expect(heard.headers.get("location")).toBe(`/stories/u/${mira.id}`);
    // The way back names a producer, never another site.
    const elsewhere = await b.post(`/stories/${storyId}/view`, { csrf: csrfOf(page), producer: "//evil.example" }, false);
    expect(elsewhere.headers.get("location")).toBe("/");
    const [row] = await env.deps.database.db.select().from(stories);
    expect(row!.viewCount).toBe(1);
    // Heard: out of the row, and the page says so.
    expect((await b.get("/")).html).not.toContain(`data-story-group="${mira.id}"`);
    expect((await b.get(`/stories/u/${mira.id}`)).html).toContain(">Heard<");
    // The script's spelling (JSON, the CSRF header) counts nothing twice.
    const again = await b.fetch(`/stories/${storyId}/view`, { method: "POST", headers: { accept: "application/json", "x-csrf-token": csrfOf(page) } });
    expect(JSON.parse(again.html)).toEqual({ ok: true, viewed: true, view_count: 1 });
  });

  test("a stranger gets an empty page and cannot record a view; signed out is sent to sign in", async () => {
    const b = await browserOf(stranger);
    expect((await b.get(`/stories/u/${mira.id}`)).html).toContain("No stories here right now.");
    const csrf = csrfOf(await b.get("/stories/new"));
    const refused = await b.fetch(`/stories/${storyId}/view`, { method: "POST", headers: { accept: "application/json", "x-csrf-token": csrf } });
    expect(JSON.parse(refused.html)).toMatchObject({ error: "story_not_found" });
    const anon = new Browser(env);
    for (const path of [`/stories/u/${mira.id}`, "/stories/new"]) {
      const res = await anon.get(path, false);
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toStartWith("/signin");
    }
    const [row] = await env.deps.database.db.select().from(stories);
    expect(row!.viewCount).toBe(1);
  });
});

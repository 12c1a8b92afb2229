// Share cards (docs/architecture.md "Share cards"), end to end on a real server (start() in process, jobs running):
// an uploaded WAV's job draws the 1200×630 card that the loop page's og:image, twitter:image and the oEmbed
// thumbnail point at; renaming redraws every card of the producer and removes the old ones; posts made before cards
// existed get theirs at the next start; a card that cannot be drawn does not fail the loop. Real ffmpeg, SQLite and
// local storage; the cards are decoded by ffmpeg.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asc, eq } from "drizzle-orm";
import { loadConfig } from "../../src/config.ts";
import { jobs, posts, users } from "../../src/db/schema.ts";
import { buildDeps } from "../../src/index.ts";
import { DRAW_CARDS, queueMissingCards } from "../../src/posts/card.ts";
import { changeUsername } from "../../src/users/profile.ts";
import { lavfi, signals } from "../support/audio.ts";
import { ffmpegDecode } from "../support/images.ts";
import { startRealtime, type Producer, type RealtimeServer } from "../support/realtime.ts";

const work = mkdtempSync(join(tmpdir(), "sc-cards-"));
const dataDir = mkdtempSync(join(tmpdir(), "sc-cards-data-"));
const ENV = { UPLOAD_RATE_PER_HOUR: "100000", JOB_POLL_MS: "50", INSTANCE_NAME: "Night Shift", PUBLIC_URL: "https://loops.example.com" };
let wav: string;
let server: RealtimeServer;
let mira: Producer;
let first: Record<string, string>;

beforeAll(async () => {
  wav = await lavfi(join(work, "loop.wav"), signals.drumsWithGap(4, 2, 4), ["-c:a", "pcm_s16le", "-f", "wav"]);
  server = await startRealtime(ENV, {}, dataDir);
  mira = await server.producer("cards_mira");
}, 60_000);
afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

async function upload(title: string) {
  const form = new FormData();
  form.set("filename", title);
  form.set("bpm", "92");
  form.set("key", "A minor");
  form.set("audio_file", Bun.file(wav), "loop.wav");
  const res = await fetch(`${server.url}/api/v1/audio/upload`, { method: "POST", headers: { authorization: `Bearer ${mira.token}` }, body: form });
  const body = (await res.json()) as Record<string, string>;
  expect(body.status).toBe("ready");
  return body;
}

const row = async (id: string) => (await server.running.deps.database.db.select().from(posts).where(eq(posts.id, id)))[0]!;
const cardAt = (key: string) => server.get(`/media/${key}`);
const metaOf = (html: string, name: string) => new RegExp(`<meta (?:property|name)="${name}" content="([^"]*)"`).exec(html)?.[1];
const cardJobs = () => server.running.deps.database.db.select().from(jobs).where(eq(jobs.type, DRAW_CARDS)).orderBy(asc(jobs.id));
async function waitForCardJobs() {
  for (const j of await cardJobs()) await server.running.deps.jobs.waitFor(j.id, 60_000);
}

describe("the loop's job draws its share card", () => {
  test("an upload is ready with a 1200×630 PNG card, and its links unfurl into it", async () => {
    first = await upload("Midnight chords");
    const r = await row(first.id!);
    expect(r.cardKey).toMatch(new RegExp(`^loops/${first.id}/[0-9a-f]+\\.png$`));
    expect(r.cardKey).not.toBe(r.waveformPngKey);
    const card = await cardAt(r.cardKey!);
    expect(card.status).toBe(200);
    expect(card.headers.get("content-type")).toBe("image/png");
    const img = ffmpegDecode(new Uint8Array(await card.arrayBuffer()));
    expect([img.width, img.height]).toEqual([1200, 630]);

    const url = `https://loops.example.com/media/${r.cardKey}`;
    const html = await (await server.get(`/l/${first.id}`)).text();
    expect(metaOf(html, "og:image")).toBe(url);
    expect(metaOf(html, "og:image:type")).toBe("image/png");
    expect(metaOf(html, "og:image:width")).toBe("1200");
    expect(metaOf(html, "og:image:height")).toBe("630");
    expect(metaOf(html, "og:image:alt")).toBe("Midnight chords: 92 BPM · Am · by @cards_mira, with its waveform");
    expect(metaOf(html, "twitter:image")).toBe(url);
    const oembed = await (await server.get(`/oembed?url=${encodeURIComponent(`https://loops.example.com/l/${first.id}`)}&format=json`)).json();
    expect(oembed).toMatchObject({ thumbnail_url: url, thumbnail_width: 1200, thumbnail_height: 630 });
  }, 60_000);
});

describe("a card that cannot be drawn", () => {
  test("does not fail the loop: it is ready without a card, and its page shows the waveform PNG", async () => {
    const storage = server.running.deps.storage;
    const put = storage.put.bind(storage);
    // Storage refuses the card (a 1200-pixel-wide PNG) and nothing else.
    storage.put = async (key, bytes, opts) => {
      const isCard = bytes instanceof Uint8Array && bytes.length > 24 && new DataView(bytes.buffer, bytes.byteOffset + 16, 4).getUint32(0) === 1200;
      if (isCard) throw new Error("disk full");
      return put(key, bytes, opts);
    };
    try {
      const post = await upload("Cardless");
      const r = await row(post.id!);
      expect(r.status).toBe("ready");
      expect(r.cardKey).toBeNull();
      const html = await (await server.get(`/l/${post.id}`)).text();
      expect(metaOf(html, "og:image")).toBe(`https://loops.example.com/media/${r.waveformPngKey}`);
    } finally {
      storage.put = put;
    }
    // The next draw (here the backfill) gives it one.
    expect(await queueMissingCards(server.running.deps)).toBe(1);
    await waitForCardJobs();
    expect(await queueMissingCards(server.running.deps)).toBe(0);
  }, 60_000);
});

describe("a rename redraws the producer's cards", () => {
  test("every card of the producer is drawn again with the new name, the old objects removed, the pages follow", async () => {
    const second = await upload("Dawn pads");
    const before = await Promise.all([first.id!, second.id!].map(row));
    const oldBytes = new Uint8Array(await (await cardAt(before[0]!.cardKey!)).arrayBuffer());
    const res = await fetch(`${server.url}/api/v1/users/username`, {
      method: "PUT",
      headers: { authorization: `Bearer ${mira.token}`, "content-type": "application/json" },
      body: JSON.stringify({ username: "cards_mira_renamed" }),
    });
    expect(res.status).toBe(200);
    await waitForCardJobs();
    const after = await Promise.all([first.id!, second.id!].map(row));
    for (const [i, r] of after.entries()) {
      expect(r.cardKey).toMatch(/\.png$/);
      expect(r.cardKey).not.toBe(before[i]!.cardKey);
      expect((await cardAt(before[i]!.cardKey!)).status).toBe(404);
    }
    const newBytes = new Uint8Array(await (await cardAt(after[0]!.cardKey!)).arrayBuffer());
    expect(Buffer.from(newBytes).equals(Buffer.from(oldBytes))).toBe(false);
    const html = await (await server.get(`/l/${first.id}`)).text();
    expect(metaOf(html, "og:image")).toBe(`https://loops.example.com/media/${after[0]!.cardKey}`);
  }, 60_000);

  test("a display name change redraws too; a bio change does not", async () => {
    const [before] = await Promise.all([row(first.id!)]);
    const put = (body: unknown) =>
      fetch(`${server.url}/api/v1/users/me`, {
        method: "PUT",
        headers: { authorization: `Bearer ${mira.token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const jobsBefore = (await cardJobs()).length;
    expect((await put({ bio: "Loops at 2 am" })).status).toBe(200);
    expect((await cardJobs()).length).toBe(jobsBefore);
    expect((await put({ display_name: "Mira O." })).status).toBe(200);
    expect((await cardJobs()).length).toBe(jobsBefore + 1);
    await waitForCardJobs();
    expect((await row(first.id!)).cardKey).not.toBe(before!.cardKey);
  }, 60_000);
});

describe("while the server was stopped: a post without a card, and two renames", () => {
  test("at the next start, of two renames only the later one redraws (the missing card too)", async () => {
    const { deps } = server.running;
    const withCard = await row(first.id!);
    const without = await row((await upload("No card yet")).id!);
    await deps.storage.delete(without.cardKey!);
    await deps.database.db.update(posts).set({ cardKey: null }).where(eq(posts.id, without.id));
    // Until then the page shows the waveform PNG, with its size.
    const html = await (await server.get(`/l/${without.id}`)).text();
    expect(metaOf(html, "og:image")).toBe(`https://loops.example.com/media/${without.waveformPngKey}`);
    expect(metaOf(html, "og:image:width")).toBe("1800");
    const oembed = await (await server.get(`/oembed?url=${encodeURIComponent(`https://loops.example.com/l/${without.id}`)}&format=json`)).json();
    expect(oembed).toMatchObject({ thumbnail_width: 1800, thumbnail_height: 210 });
    const before = (await cardJobs()).length;
    await server.stop({ keepData: true });

    // A process without a job runner renames the producer twice (the admin CLI or another instance would).
    const offline = await buildDeps(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "error" }));
    const [user] = await offline.database.db.select().from(users).where(eq(users.id, mira.id));
    const renamed = await changeUsername(offline, user!, "cards_mira_a");
    await changeUsername(offline, renamed, "cards_mira_b");
    await offline.database.close();

    server = await startRealtime(ENV, {}, dataDir);
    // The start queues its backfill in the background, without holding the start up: wait for it.
    let fresh = (await cardJobs()).slice(before);
    for (let i = 0; i < 200 && fresh.length < 3; i++) {
      await Bun.sleep(25);
      fresh = (await cardJobs()).slice(before);
    }
    expect(fresh.map((j) => (j.payload as { only: string }).only)).toEqual(["all", "all", "missing"]);
    for (const j of fresh) await server.running.deps.jobs.waitFor(j.id, 60_000);
    const results = await Promise.all(fresh.map(async (j) => (await server.running.deps.jobs.get(j.id))?.result));
    // The first rename gives way to the second, which draws every card (the missing one included, with the newest
    // name); the start's backfill then finds nothing left to draw.
    expect(results).toEqual([{ skipped: "superseded by a later job" }, { drawn: 4, failed: 0 }, { drawn: 0, failed: 0 }]);
    expect((await row(without.id)).cardKey).toMatch(/\.png$/);
    expect((await row(withCard.id)).cardKey).not.toBe(withCard.cardKey);
    expect(await queueMissingCards(server.running.deps)).toBe(0);
  }, 120_000);

  test("a backfill alone draws only the posts without a card", async () => {
    const { deps } = server.running;
    const [a, b] = [await row(first.id!), (await deps.database.db.select().from(posts).where(eq(posts.userId, mira.id)))[1]!];
    await deps.storage.delete(b.cardKey!);
    await deps.database.db.update(posts).set({ cardKey: null }).where(eq(posts.id, b.id));
    const before = (await cardJobs()).length;
    expect(await queueMissingCards(deps)).toBe(1);
    await waitForCardJobs();
    const [job] = (await cardJobs()).slice(before);
    expect(job!.result).toEqual({ drawn: 1, failed: 0 });
    expect((await row(b.id)).cardKey).toMatch(/\.png$/);
    expect((await row(a.id)).cardKey).toBe(a.cardKey);
  }, 60_000);
});

// Comments over a really listening server with real WebSocket clients (README "Comments"; docs/plugin-contract.md
// "WebSocket"): a comment written over HTTP reaches the loop's producer and whoever read the loop's comments
// (`new_comment` with the comment and the loop's comment_count), its deletion `comment_deleted`, and the producer's
// `notification` frame; a reader blocked with the commenter gets neither. "Nothing arrived" is proven by a marker
// notification sent after the event: it is the next frame.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { publishNotification } from "../../src/realtime/events.ts";
import { startRealtime, type Producer, type RealtimeServer } from "../support/realtime.ts";

describe("comments in realtime", () => {
  let s: RealtimeServer;
  beforeAll(async () => {
    s = await startRealtime();
  });
  afterAll(() => s.stop());

  const call = (who: Producer, method: string, path: string, body?: unknown) =>
    fetch(`${s.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${who.token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  test("new_comment and comment_deleted reach the producer and the loop's readers, not someone blocked with the commenter", async () => {
    const [star, fan, reader, blocker] = [await s.producer(), await s.producer(), await s.producer(), await s.producer()];
    const loop = await s.readyPost(star);
    expect((await call(blocker, "POST", "/social/block", { target_user_id: fan.id })).status).toBe(201);
    const [starC, readerC, blockerC] = [await s.connect(star), await s.connect(reader), await s.connect(blocker)];
    // Reading the comments makes a reader a watcher of the loop, as reading a feed does for likes.
    for (const who of [reader, blocker]) expect((await call(who, "GET", `/posts/${loop}/comments`)).status).toBe(200);

    const res = await call(fan, "POST", `/posts/${loop}/comments`, { content: "🔥 at the drop", at_ms: 2000 });
    const created = (await res.json()) as { id: string };
    expect(res.status).toBe(200);
    for (const c of [starC, readerC]) {
      const f = await c.next("new_comment");
      expect(f.payload).toMatchObject({
        post_id: loop,
        comment_count: 1,
        comment: { id: created.id, user_id: fan.id, content: "🔥 at the drop", at_ms: 2000 },
      });
    }
    const note = await starC.next("notification");
    expect(note.payload).toMatchObject({ kind: "comment", actor_id: fan.id, post_id: loop, comment_id: created.id });
    await publishNotification(s.running.deps, blocker.id, { id: "marker-1" });
    expect((await blockerC.next()).payload).toEqual({ id: "marker-1" });

    expect((await call(star, "DELETE", `/comments/${created.id}`)).status).toBe(200);
    expect((await readerC.next("comment_deleted")).payload).toEqual({ post_id: loop, comment_id: created.id, comment_count: 0 });
    expect((await starC.next("comment_deleted")).payload).toEqual({ post_id: loop, comment_id: created.id, comment_count: 0 });
    await publishNotification(s.running.deps, blocker.id, { id: "marker-2" });
    expect((await blockerC.next()).payload).toEqual({ id: "marker-2" });
    for (const c of [starC, readerC, blockerC]) await c.close();
  });
});

// Comments through HTTP as the plugin sends them (plugin/src/network/api/CommentsClient.cpp: GET/POST
// /posts/{id}/comments, GET /comments/{id}/replies, PUT and DELETE /comments/{id}, POST and DELETE /comments/{id}/like,
// POST /comments/{id}/report; the shape it parses is plugin/src/models/Comment.h), on bun:sqlite and on a real sqld.
// The plugin's PUT arrives as POST, its DELETE and its bodiless like/unlike as GET (docs/plugin-contract.md
// "Transport rules"). Rules: one level of replies, at_ms within the loop, comment_audience, blocks both ways, the text
// rules, the edit window, who may delete; comment_count exact after create, delete and the replies' cascade;
// notifications for the producer, the replied-to author and mentions; bad input refused with nothing changed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { posts, users } from "../../src/db/schema.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { expectError, expectOk, type Producer, registerProducer } from "../support/auth.ts";
import { insertFollow, insertPost, insertReadyPost } from "../support/ready-posts.ts";

const MIN = 60_000;

for (const driver of DRIVERS) {
  describe(`comments on ${driver}`, () => {
    let env: TestEnv;
    let staff: Producer;
    beforeAll(async () => {
      env = await createTestEnv(driver, { RATE_LIMIT_AUTH_PER_MIN: "10000" });
      staff = await registerProducer(env); // the first account is the community's owner
      await env.deps.database.db.update(users).set({ role: "owner" }).where(eq(users.id, staff.id));
    });
    afterAll(() => env.close());

    const producer = () => registerProducer(env);
    const api = (path: string, init: Parameters<TestEnv["request"]>[1] = {}) => env.request(`/api/v1${path}`, init);
    const comment = (who: Producer, postId: string, body: Record<string, unknown>) =>
      api(`/posts/${postId}/comments`, { method: "POST", token: who.token, json: body });
    const list = (postId: string, who?: Producer, q = "") => api(`/posts/${postId}/comments${q}`, { token: who?.token });
    /** The plugin's DELETE: a bodiless GET with its headers. */
    const pluginDelete = (who: Producer, id: string) => api(`/comments/${id}`, { token: who.token, headers: { "content-type": "application/json" } });
    const pluginLike = (who: Producer, id: string) => api(`/comments/${id}/like`, { token: who.token, headers: { "content-type": "application/json" } });
    const commentCount = async (postId: string) => {
      const [p] = await env.deps.database.db.select({ n: posts.commentCount }).from(posts).where(eq(posts.id, postId));
      const [r] = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM comments WHERE post_id = ${postId}`);
      return { comment_count: p!.n, rows: Number(r!.n) };
    };
    const rows = async () => Number((await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM comments`))[0]!.n);
    const notificationsOf = async (who: Producer) =>
      (await expectOk(await api("/notifications", { token: who.token }))).notifications as Record<string, unknown>[];

    test("comment, reply, list: the plugin's shapes, oldest first with replies, comment_count exact", async () => {
      const [author, fan, other] = [await producer(), await producer(), await producer()];
      const loop = await insertReadyPost(env, author.id, "Night drive");
      const first = await expectOk(await comment(fan, loop, { content: "  That filter sweep 🔥  ", at_ms: 4200 }));
      expect(first).toMatchObject({
        post_id: loop,
        user_id: fan.id,
        username: fan.username,
        content: "That filter sweep 🔥",
        parent_id: "",
        at_ms: 4200,
        like_count: 0,
        reply_count: 0,
        is_liked: false,
        is_own_comment: true,
        can_edit: true,
        can_delete: true,
        is_edited: false,
        replies: [],
      });
      // Types as Comment.h reads them strictly: strings are strings, never null.
      for (const k of ["id", "post_id", "user_id", "username", "content", "user_avatar_url", "parent_id", "created_at"]) expect(typeof first[k]).toBe("string");
      env.clock.advance(1000);
      const second = await expectOk(await comment(other, loop, { content: "Whole loop is great" }));
      expect(second.at_ms).toBeNull();
      env.clock.advance(1000);
      const reply = await expectOk(await comment(author, loop, { content: "thanks!", parent_id: first.id }));
      expect(reply.parent_id).toBe(first.id);
      env.clock.advance(1000);
      // A reply to a reply joins the thread of its top-level comment.
      const deeper = await expectOk(await comment(other, loop, { content: "agreed", parent_id: reply.id }));
      expect(deeper.parent_id).toBe(first.id);

      const page = await expectOk(await list(loop, author));
      expect(page.total_count).toBe(2);
      expect(page.has_more).toBe(false);
      expect(page.comments.map((c: { id: string }) => c.id)).toEqual([first.id, second.id]);
      expect(page.comments[0].reply_count).toBe(2);
      expect(page.comments[0].replies.map((c: { id: string }) => c.id)).toEqual([reply.id, deeper.id]);
      // The producer may delete any comment of the loop, edit only their own.
      expect(page.comments[0]).toMatchObject({ is_own_comment: false, can_edit: false, can_delete: true });
      expect(await commentCount(loop)).toEqual({ comment_count: 4, rows: 4 });
      expect((await expectOk(await api(`/posts/${loop}`, { token: fan.token }))).comment_count).toBe(4);

      const replies = await expectOk(await api(`/comments/${first.id}/replies`, { token: fan.token }));
      expect(replies).toMatchObject({ total_count: 2, has_more: false });
      expect(replies.replies.map((c: { content: string }) => c.content)).toEqual(["thanks!", "agreed"]);
      // Signed out, the list reads the same (no viewer fields set).
      const open = await expectOk(await list(loop));
      expect(open.comments[0]).toMatchObject({ is_own_comment: false, can_delete: false, can_edit: false });
      // One comment by id.
      expect((await expectOk(await api(`/comments/${second.id}`, { token: fan.token }))).content).toBe("Whole loop is great");
    });

    test("paging: offset as the plugin sends it, and the cursor", async () => {
      const [author, fan] = [await producer(), await producer()];
      const loop = await insertReadyPost(env, author.id);
      for (let i = 0; i < 5; i++) {
        await expectOk(await comment(fan, loop, { content: `c${i}` }));
        env.clock.advance(10);
      }
      const p1 = await expectOk(await list(loop, fan, "?limit=2&offset=0"));
      expect([p1.comments.map((c: { content: string }) => c.content), p1.total_count, p1.has_more]).toEqual([["c0", "c1"], 5, true]);
      const p3 = await expectOk(await list(loop, fan, "?limit=2&offset=4"));
      expect([p3.comments.map((c: { content: string }) => c.content), p3.has_more]).toEqual([["c4"], false]);
      const c2 = await expectOk(await list(loop, fan, `?limit=2&cursor=${p1.meta.next_cursor}`));
      expect(c2.comments.map((c: { content: string }) => c.content)).toEqual(["c2", "c3"]);
      await expectError(await list(loop, fan, "?limit=500"), 400, "validation_error");
      await expectError(await list(loop, fan, "?cursor=nonsense"), 400, "validation_error");
    });

    test("edit: your own, within 15 minutes (the plugin's PUT arrives as POST); not someone else's", async () => {
      const [author, fan, other] = [await producer(), await producer(), await producer()];
      const loop = await insertReadyPost(env, author.id);
      const c = await expectOk(await comment(fan, loop, { content: "frist" }));
      const edited = await expectOk(await api(`/comments/${c.id}`, { method: "POST", token: fan.token, json: { content: "first" } }));
      expect(edited).toMatchObject({ content: "first", is_edited: true, can_edit: true });
      expect((await expectOk(await api(`/comments/${c.id}`, { method: "PUT", token: fan.token, json: { content: "first!" } }))).content).toBe("first!");
      await expectError(await api(`/comments/${c.id}`, { method: "PUT", token: other.token, json: { content: "hijack" } }), 403, "not_your_comment");
      await expectError(await api(`/comments/${c.id}`, { method: "PUT", token: author.token, json: { content: "hijack" } }), 403, "not_your_comment");
      await expectError(await api(`/comments/${c.id}`, { method: "PUT", token: fan.token, json: { content: "   " } }), 400, "validation_error");
      env.clock.advance(15 * MIN);
      await expectError(await api(`/comments/${c.id}`, { method: "PUT", token: fan.token, json: { content: "late" } }), 403, "edit_window_closed");
      expect((await expectOk(await api(`/comments/${c.id}`, { token: fan.token }))).content).toBe("first!");
      expect((await expectOk(await api(`/comments/${c.id}`, { token: fan.token }))).can_edit).toBe(false);
    });

    test("delete: the author (the plugin's GET), the producer, staff; not anyone else; replies go with it, counts exact", async () => {
      const [author, fan, other] = [await producer(), await producer(), await producer()];
      const loop = await insertReadyPost(env, author.id);
      const a = await expectOk(await comment(fan, loop, { content: "top" }));
      const r1 = await expectOk(await comment(other, loop, { content: "reply one", parent_id: a.id }));
      await expectOk(await comment(author, loop, { content: "reply two", parent_id: a.id }));
      const b = await expectOk(await comment(other, loop, { content: "second" }));
      const c = await expectOk(await comment(other, loop, { content: "third" }));
      expect(await commentCount(loop)).toEqual({ comment_count: 5, rows: 5 });

      // Someone else may not: 403 and nothing changes; a browser-like GET only reads.
      await expectError(await api(`/comments/${a.id}`, { method: "DELETE", token: other.token }), 403, "not_your_comment");
      await expectError(await pluginDelete(other, a.id), 403, "not_your_comment");
      expect((await expectOk(await api(`/comments/${a.id}`, { token: fan.token }))).id).toBe(a.id);
      expect(await commentCount(loop)).toEqual({ comment_count: 5, rows: 5 });

      // The reply's author deletes their reply: reply_count follows.
      expect(await expectOk(await api(`/comments/${r1.id}/delete`, { method: "POST", token: other.token }))).toMatchObject({ deleted: true, comment_count: 4 });
      expect((await expectOk(await api(`/comments/${a.id}`, { token: fan.token }))).reply_count).toBe(1);
      // The author deletes the top-level comment the plugin's way: its remaining reply goes too.
      expect(await expectOk(await pluginDelete(fan, a.id))).toEqual({ ok: true, deleted: true, id: a.id, comment_count: 2 });
      await expectError(await api(`/comments/${a.id}`, { token: fan.token }), 404, "comment_not_found");
      // The producer deletes someone's comment on their loop; staff another.
      await expectOk(await api(`/comments/${b.id}`, { method: "DELETE", token: author.token }));
      await expectOk(await api(`/comments/${c.id}`, { method: "DELETE", token: staff.token }));
      expect(await commentCount(loop)).toEqual({ comment_count: 0, rows: 0 });
      await expectError(await api(`/comments/${c.id}`, { method: "DELETE", token: staff.token }), 404, "comment_not_found");
    });

    test("likes: the plugin's GET toggles, POST likes and DELETE unlikes idempotently; like_count exact", async () => {
      const [author, fan, other] = [await producer(), await producer(), await producer()];
      const loop = await insertReadyPost(env, author.id);
      const c = await expectOk(await comment(fan, loop, { content: "like me" }));
      expect(await expectOk(await pluginLike(other, c.id))).toEqual({ like_count: 1, is_liked: true });
      expect(await expectOk(await pluginLike(other, c.id))).toEqual({ like_count: 0, is_liked: false });
      expect(await expectOk(await api(`/comments/${c.id}/like`, { method: "POST", token: other.token, json: {} }))).toEqual({ like_count: 1, is_liked: true });
      expect(await expectOk(await api(`/comments/${c.id}/like`, { method: "POST", token: other.token, json: {} }))).toEqual({ like_count: 1, is_liked: true });
      expect(await expectOk(await api(`/comments/${c.id}/like`, { method: "POST", token: author.token, json: {} }))).toEqual({ like_count: 2, is_liked: true });
      expect((await expectOk(await list(loop, other))).comments[0]).toMatchObject({ like_count: 2, is_liked: true });
      expect(await expectOk(await api(`/comments/${c.id}/like`, { method: "DELETE", token: other.token }))).toEqual({ like_count: 1, is_liked: false });
      expect(await expectOk(await api(`/comments/${c.id}/like`, { method: "DELETE", token: other.token }))).toEqual({ like_count: 1, is_liked: false });
      await expectError(await api("/comments/nope/like", { method: "POST", token: other.token, json: {} }), 404, "comment_not_found");
      await expectError(await api(`/comments/${c.id}/like`, { method: "POST", json: {} }), 401, "unauthorized");
    });

    test("bad input changes nothing: empty, too long, invisible characters, bad at_ms, unknown parent or post, not ready", async () => {
      const [author, fan] = [await producer(), await producer()];
      const loop = await insertReadyPost(env, author.id);
      const elsewhere = await insertReadyPost(env, author.id);
      const foreign = await expectOk(await comment(fan, elsewhere, { content: "on another loop" }));
      const processing = await insertPost(env, author.id);
      const before = await rows();
      const refuse = async (postId: string, body: Record<string, unknown>, status: number, code: string) =>
        expectError(await comment(fan, postId, body), status, code);
      await refuse(loop, { content: "" }, 400, "validation_error");
      await refuse(loop, { content: " \n\t " }, 400, "validation_error");
      await refuse(loop, { content: "x".repeat(1001) }, 400, "validation_error");
      await refuse(loop, { content: "evil\u202Etxt.exe" }, 400, "validation_error");
      await refuse(loop, { content: "zero\u200Bwidth" }, 400, "validation_error");
      await refuse(loop, { content: "nul\u0000byte" }, 400, "validation_error");
      await refuse(loop, { content: "ok", at_ms: 8001 }, 400, "validation_error");
      await refuse(loop, { content: "ok", at_ms: -1 }, 400, "validation_error");
      await refuse(loop, { content: "ok", at_ms: 1.5 }, 400, "validation_error");
      await refuse(loop, { content: "ok", parent_id: "no-such-comment" }, 400, "validation_error");
      await refuse(loop, { content: "ok", parent_id: foreign.id }, 400, "validation_error");
      await refuse(loop, { content: 42 }, 400, "validation_error");
      await refuse("no-such-post", { content: "ok" }, 404, "post_not_found");
      await refuse(processing, { content: "ok" }, 404, "post_not_found");
      await expectError(await comment(author, processing, { content: "mine" }), 409, "post_not_ready");
      await expectError(await api(`/posts/${loop}/comments`, { method: "POST", json: { content: "anon" } }), 401, "unauthorized");
      expect(await rows()).toBe(before);
      // Exactly 1000 characters (emoji count as one each) is fine; the text is kept as NFC.
      expect((await expectOk(await comment(fan, loop, { content: "🔥".repeat(1000) }))).content).toBe("🔥".repeat(1000));
      expect((await expectOk(await comment(fan, loop, { content: "Cafe\u0301", at_ms: 8000 }))).content).toBe("Café");
      await expectError(await list("no-such-post", fan), 404, "post_not_found");
      await expectError(await list(processing, fan), 404, "post_not_found");
    });

    test("comment_audience: off refuses everyone, followers only the producer's followers and the producer", async () => {
      const [author, fan, follower] = [await producer(), await producer(), await producer()];
      const loop = await insertReadyPost(env, author.id);
      await insertFollow(env, follower.id, author.id);
      await env.deps.database.db.update(posts).set({ commentAudience: "off" }).where(eq(posts.id, loop));
      for (const who of [fan, follower, author]) await expectError(await comment(who, loop, { content: "hi" }), 403, "comments_off");
      await env.deps.database.db.update(posts).set({ commentAudience: "followers" }).where(eq(posts.id, loop));
      await expectError(await comment(fan, loop, { content: "hi" }), 403, "comments_followers_only");
      await expectOk(await comment(follower, loop, { content: "hi from a follower" }));
      await expectOk(await comment(author, loop, { content: "hi from the producer" }));
      expect(await commentCount(loop)).toEqual({ comment_count: 2, rows: 2 });
      // Reading is not restricted by the audience.
      expect((await expectOk(await list(loop, fan))).total_count).toBe(2);
    });

    test("blocks: no commenting on each other's loops or comments, and each other's comments are hidden both ways", async () => {
      const [author, blocker, blocked, bystander] = [await producer(), await producer(), await producer(), await producer()];
      const loop = await insertReadyPost(env, author.id);
      const byBlocked = await expectOk(await comment(blocked, loop, { content: "from the blocked one" }));
      const byBlocker = await expectOk(await comment(blocker, loop, { content: "from the blocker" }));
      await expectOk(await comment(bystander, loop, { content: "a reply by the blocked one follows", parent_id: byBlocker.id }));
      expect((await api("/social/block", { method: "POST", token: blocker.token, json: { target_user_id: blocked.id } })).status).toBe(201);

      const seen = async (who: Producer) => (await expectOk(await list(loop, who))).comments.map((c: { content: string }) => c.content);
      expect(await seen(blocker)).toEqual(["from the blocker"]);
      expect(await seen(blocked)).toEqual(["from the blocked one"]);
      expect(await seen(bystander)).toEqual(["from the blocked one", "from the blocker"]);
      // Neither can reply to, like, read or report the other's comment (404, as if it did not exist).
      await expectError(await comment(blocked, loop, { content: "psst", parent_id: byBlocker.id }), 400, "validation_error");
      await expectError(await api(`/comments/${byBlocker.id}/like`, { method: "POST", token: blocked.token, json: {} }), 404, "comment_not_found");
      await expectError(await api(`/comments/${byBlocked.id}`, { token: blocker.token }), 404, "comment_not_found");
      await expectError(
        await api(`/comments/${byBlocked.id}/report`, { method: "POST", token: blocker.token, json: { reason: "spam" } }),
        404,
        "comment_not_found",
      );
      // Neither can comment on the other's loop.
      const blockersLoop = await insertReadyPost(env, blocker.id);
      await expectError(await comment(blocked, blockersLoop, { content: "hi" }), 404, "post_not_found");
      await expectError(await list(blockersLoop, blocked), 404, "post_not_found");
      const blockedsLoop = await insertReadyPost(env, blocked.id);
      await expectError(await comment(blocker, blockedsLoop, { content: "hi" }), 404, "post_not_found");
    });

    test("notifications: the producer, the replied-to author, mentions (not yourself, not the blocked, at most 5)", async () => {
      const [author, fan, replier, named, blocker] = [await producer(), await producer(), await producer(), await producer(), await producer()];
      const loop = await insertReadyPost(env, author.id, "Midnight chords");
      expect((await api("/social/block", { method: "POST", token: blocker.token, json: { target_user_id: fan.id } })).status).toBe(201);
      const top = await expectOk(
        await comment(fan, loop, { content: `nice @${named.username} and @${fan.username} and @${blocker.username} and @nobody_here` }),
      );
      const authorNotes = await notificationsOf(author);
      expect(authorNotes[0]).toMatchObject({
        kind: "comment",
        actor_id: fan.id,
        post_id: loop,
        comment_id: top.id,
        message: expect.stringContaining("commented on “Midnight chords”"),
      });
      const namedNotes = await notificationsOf(named);
      expect(namedNotes.map((n) => n.kind)).toEqual(["mention"]);
      expect(await notificationsOf(fan)).toEqual([]);
      expect(await notificationsOf(blocker)).toEqual([]);

      await expectOk(await comment(replier, loop, { content: "replying", parent_id: top.id }));
      const fanNotes = await notificationsOf(fan);
      expect(fanNotes.map((n) => n.kind)).toEqual(["reply"]);
      // The producer commenting on their own loop is not told of it; a reply to them is a reply, not two notices.
      const own = await expectOk(await comment(author, loop, { content: "thanks all" }));
      await expectOk(await comment(fan, loop, { content: "you're welcome", parent_id: own.id }));
      const kinds = (await notificationsOf(author)).map((n) => n.kind);
      expect(kinds).toEqual(["reply", "comment", "comment"]);
      // The plugin's grouped shape (Notification.h): verb comment, the comment's text.
      const grouped = await expectOk(await api("/notifications", { token: fan.token }));
      expect(grouped.groups[0]).toMatchObject({ verb: "comment", target_type: "comment", target_id: top.id, post_id: loop, content_text: "replying" });

      // At most five mentions per comment notify.
      const many = [];
      for (let i = 0; i < 6; i++) many.push(await producer());
      await expectOk(await comment(fan, loop, { content: many.map((m) => `@${m.username}`).join(" ") }));
      const told = await Promise.all(many.map(async (m) => (await notificationsOf(m)).length));
      expect(told).toEqual([1, 1, 1, 1, 1, 0]);
      // Deleting the comment takes its notifications along, and those of its replies.
      await expectOk(await api(`/comments/${top.id}`, { method: "DELETE", token: fan.token }));
      expect(await notificationsOf(named)).toEqual([]);
      expect(await notificationsOf(fan)).toEqual([]);
      expect((await notificationsOf(author)).map((n) => n.kind)).toEqual(["comment", "reply"]); // the mentions comment, the reply to them
    });

    test("an edit that adds a mention notifies the newly mentioned, once; the already told are not told again", async () => {
      const [author, fan, first, later] = [await producer(), await producer(), await producer(), await producer()];
      const loop = await insertReadyPost(env, author.id);
      const c = await expectOk(await comment(fan, loop, { content: `hey @${first.username}` }));
      const edit = (content: string) => api(`/comments/${c.id}`, { method: "POST", token: fan.token, json: { content } });
      await expectOk(await edit(`hey @${first.username} and @${later.username} and @${author.username}`));
      expect((await notificationsOf(later)).map((n) => [n.kind, n.comment_id])).toEqual([["mention", c.id]]);
      expect((await notificationsOf(first)).length).toBe(1); // told when the comment was written, not again
      expect((await notificationsOf(author)).map((n) => n.kind)).toEqual(["comment"]); // the producer: one notice
      // Taking a mention out and putting it back does not tell them twice.
      await expectOk(await edit(`hey @${first.username}`));
      await expectOk(await edit(`hey @${first.username} @${later.username}`));
      expect((await notificationsOf(later)).length).toBe(1);
    });

    test("comments of a suspended account are hidden from everyone until it is unsuspended", async () => {
      const [author, fan, reader] = [await producer(), await producer(), await producer()];
      const loop = await insertReadyPost(env, author.id);
      const top = await expectOk(await comment(author, loop, { content: "what do you hear?" }));
      const bad = await expectOk(await comment(fan, loop, { content: "spam spam" }));
      const reply = await expectOk(await comment(fan, loop, { content: "more spam", parent_id: top.id }));
      const admin = (action: string) => api(`/admin/users/${fan.id}/${action}`, { method: "POST", token: staff.token, json: { reason: "spam" } });
      await expectOk(await admin("suspend"));
      const page = await expectOk(await list(loop, reader));
      expect(page.comments.map((c: { id: string }) => c.id)).toEqual([top.id]);
      expect(page.total_count).toBe(1);
      expect(page.comments[0].replies).toEqual([]);
      expect((await expectOk(await api(`/comments/${top.id}/replies`, { token: reader.token }))).total_count).toBe(0);
      await expectError(await api(`/comments/${bad.id}`, { token: reader.token }), 404, "comment_not_found");
      await expectError(await comment(reader, loop, { content: "replying to spam", parent_id: reply.id }), 400, "validation_error");
      await expectOk(await admin("unsuspend"));
      const back = await expectOk(await list(loop, reader));
      expect(back.comments.map((c: { id: string }) => c.id)).toEqual([top.id, bad.id]);
      expect(back.comments[0].replies.map((c: { id: string }) => c.id)).toEqual([reply.id]);
    });

    test("a kept page stays exact per reader: their likes, own and delete fields, the edit window closing, a taken-down loop", async () => {
      const [author, fan, reader] = [await producer(), await producer(), await producer()];
      const loop = await insertReadyPost(env, author.id);
      const c = await expectOk(await comment(fan, loop, { content: "kept" }));
      const fields = async (who?: Producer) => {
        const [first] = (await expectOk(await list(loop, who))).comments;
        return [first.is_liked, first.is_own_comment, first.can_edit, first.can_delete];
      };
      expect(await fields()).toEqual([false, false, false, false]);
      expect(await fields(fan)).toEqual([false, true, true, true]);
      expect(await fields(author)).toEqual([false, false, false, true]);
      expect(await fields(staff)).toEqual([false, false, false, true]);
      expect(await fields(reader)).toEqual([false, false, false, false]);
      await expectOk(await api(`/comments/${c.id}/like`, { method: "POST", token: reader.token, json: {} }));
      expect(await fields(reader)).toEqual([true, false, false, false]);
      expect(await fields(fan)).toEqual([false, true, true, true]);
      // Nothing written, time passes: the author's can_edit closes with the window.
      env.clock.advance(16 * MIN);
      expect(await fields(fan)).toEqual([false, true, false, true]);
      // The same bytes twice for the same reader while nothing changes.
      const a = await (await list(loop, reader)).text();
      expect(await (await list(loop, reader)).text()).toBe(a);
      // Taken down: the producer still reads its comments, nobody else does.
      await env.deps.database.db.update(posts).set({ status: "removed" }).where(eq(posts.id, loop));
      expect((await expectOk(await list(loop, author))).comments.map((x: { id: string }) => x.id)).toEqual([c.id]);
      await expectError(await list(loop, reader), 404, "post_not_found");
      await expectError(await list(loop), 404, "post_not_found");
    });

    test("reports: the plugin's route files a comment report; staff delete the comment from the queue", async () => {
      const [author, fan, reporter] = [await producer(), await producer(), await producer()];
      const loop = await insertReadyPost(env, author.id);
      const c = await expectOk(await comment(fan, loop, { content: "buy followers at spam dot example" }));
      await expectOk(await comment(author, loop, { content: "a reply", parent_id: c.id }));
      const filed = await expectOk(
        await api(`/comments/${c.id}/report`, { method: "POST", token: reporter.token, json: { reason: "Scam link", description: "an ad" } }),
      );
      expect(filed.status).toBe("open");
      await expectError(await api(`/comments/${c.id}/report`, { method: "POST", token: reporter.token, json: { reason: "spam" } }), 409, "already_reported");
      await expectError(await api(`/comments/${c.id}/report`, { method: "POST", token: fan.token, json: { reason: "spam" } }), 400, "validation_error");
      const queue = await expectOk(await api("/admin/reports", { token: staff.token }));
      const mine = queue.reports.find((r: { id: string }) => r.id === filed.id);
      expect(mine).toMatchObject({ target_type: "comment", target_id: c.id, target_user_id: fan.id, reason: "other", note: "Scam link: an ad" });
      expect(mine.target_label).toContain("buy followers");
      await expectError(
        await api(`/admin/reports/${filed.id}/resolve`, { method: "POST", token: staff.token, json: { action: "remove_loop", note: "no" } }),
        400,
        "validation_error",
      );
      const closed = await expectOk(
        await api(`/admin/reports/${filed.id}/resolve`, { method: "POST", token: staff.token, json: { action: "delete_comment", note: "spam" } }),
      );
      expect(closed).toMatchObject({ status: "closed", resolution: "comment_deleted" });
      expect(await commentCount(loop)).toEqual({ comment_count: 0, rows: 0 });
    });

    test("an account's deletion takes its comments and likes, and the counts stay exact", async () => {
      const [author, leaving, fan] = [await producer(), await producer(), await producer()];
      const loop = await insertReadyPost(env, author.id);
      const top = await expectOk(await comment(leaving, loop, { content: "bye" }));
      await expectOk(await comment(fan, loop, { content: "reply to the leaver", parent_id: top.id }));
      const kept = await expectOk(await comment(fan, loop, { content: "stays" }));
      const reply = await expectOk(await comment(leaving, loop, { content: "reply by the leaver", parent_id: kept.id }));
      await expectOk(await api(`/comments/${kept.id}/like`, { method: "POST", token: leaving.token, json: {} }));
      expect(reply.parent_id).toBe(kept.id);
      expect(await commentCount(loop)).toEqual({ comment_count: 4, rows: 4 });
      await expectOk(await api("/users/me/delete", { method: "POST", token: leaving.token, json: { password: "correct horse battery staple" } }));
      expect(await commentCount(loop)).toEqual({ comment_count: 1, rows: 1 });
      expect(await expectOk(await api(`/comments/${kept.id}`, { token: fan.token }))).toMatchObject({ like_count: 0, reply_count: 0 });
    });

    if (driver === "sqlite")
      test("the comments rate limit: 120 an hour per user, then 429 with Retry-After and nothing written", async () => {
        const [author, chatty, calm] = [await producer(), await producer(), await producer()];
        const loop = await insertReadyPost(env, author.id);
        for (let i = 0; i < 120; i++) expect((await comment(chatty, loop, { content: `msg ${i}` })).status).toBe(200);
        const limited = await comment(chatty, loop, { content: "one more" });
        await expectError(limited, 429, "rate_limited");
        expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
        expect(await commentCount(loop)).toEqual({ comment_count: 120, rows: 120 });
        await expectOk(await comment(calm, loop, { content: "someone else still can" }));
      });
  });
}

// The comments under a loop's player (README "Comments"), in process with the plain forms (no script): a member
// comments (at a moment of the loop) and replies from the loop page, the producer sees both and deletes one, the
// author deletes their own; likes and edits from the page; pages of 50 comments (?comments=N); refusals come back as a page saying why and change nothing (no CSRF token, empty text,
// comments off, someone else's comment); signed out, a sign-in link and no form; the script's JSON.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { posts } from "../../src/db/schema.ts";
import { registerUser } from "../support/auth.ts";
import { Browser, csrfOf, type Page } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertReadyPost } from "../support/ready-posts.ts";

let env: TestEnv;
let boss: Awaited<ReturnType<typeof registerUser>>;
let mira: Awaited<ReturnType<typeof registerUser>>;
let fan: Awaited<ReturnType<typeof registerUser>>;
let other: Awaited<ReturnType<typeof registerUser>>;

async function signedIn(who: typeof fan) {
  const b = new Browser(env);
  await b.submit(await b.get("/signin"), { login: who.input.username, password: who.input.password });
  return b;
}
/** The hidden fields of the form posting to `action` (the n-th such form), plus what a person types. */
function formOf(page: Page, action: string, fields: Record<string, string>, nth = 0) {
  const forms = [...page.html.matchAll(/<form method="post" action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)].filter((m) => m[1] === action);
  const form = forms[nth];
  if (!form) throw new Error(`no form posting to ${action}`);
  const hidden: Record<string, string> = {};
  for (const m of form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) hidden[m[1]!] = m[2]!;
  return { ...hidden, ...fields };
}
const rows = async () => Number((await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM comments`))[0]!.n);

beforeAll(async () => {
  env = await createTestEnv("sqlite");
  boss = await registerUser(env, { username: "boss" }); // the first account: the owner
  mira = await registerUser(env, { username: "mira" });
  fan = await registerUser(env, { username: "fan" });
  other = await registerUser(env, { username: "other" });
});
afterAll(() => env.close());

describe("comments on the loop page", () => {
  test("comment at a moment, reply, see both; the producer deletes the reply, the author their comment", async () => {
    const loop = await insertReadyPost(env, mira.auth.user.id, "Night drive");
    const b = await signedIn(fan);
    const page = await b.get(`/l/${loop}`);
    expect(page.html).toContain('id="comments"');
    expect(page.html).toContain("No comments yet.");
    const done = await b.post(`/l/${loop}/comments`, formOf(page, `/l/${loop}/comments`, { content: "That <b>drop</b> at 0:04!", at: "4.2" }));
    expect(done.status).toBe(200);
    expect(done.url).toStartWith(`/l/${loop}#c-`);
    expect(done.html).toContain("That &lt;b&gt;drop&lt;/b&gt; at 0:04!");
    expect(done.html).toContain('data-at-ms="4200"');
    expect(done.html).toContain("Comments (1)");

    const m = await signedIn(mira);
    const hers = await m.get(`/l/${loop}`);
    const replied = await m.post(`/l/${loop}/comments`, formOf(hers, `/l/${loop}/comments`, { content: "thank you" }, 0));
    // The first form posting to the loop's comments is the reply disclosure of the first comment.
    const [comment] = await env.deps.database.db.all<{ id: string; parent_id: string | null }>(
      sql`SELECT id, parent_id FROM comments WHERE content = 'thank you'`,
    );
    expect(comment!.parent_id).not.toBeNull();
    expect(replied.html).toContain("thank you");
    expect(replied.html).toContain("Comments (2)");
    // The producer may delete both; the fan only their own.
    expect([...replied.html.matchAll(/action="\/comments\/[^"]+\/remove"/g)]).toHaveLength(2);
    const fanView = await b.get(`/l/${loop}`);
    expect([...fanView.html.matchAll(/action="\/comments\/[^"]+\/remove"/g)]).toHaveLength(1);

    const afterDelete = await m.post(`/comments/${comment!.id}/remove`, formOf(replied, `/comments/${comment!.id}/remove`, {}));
    expect(afterDelete.url).toBe(`/l/${loop}#comments`);
    expect(afterDelete.html).toContain("Comments (1)");
    const [top] = await env.deps.database.db.all<{ id: string }>(sql`SELECT id FROM comments WHERE post_id = ${loop}`);
    const own = await b.get(`/l/${loop}`);
    await b.post(`/comments/${top!.id}/remove`, formOf(own, `/comments/${top!.id}/remove`, {}));
    expect((await b.get(`/l/${loop}`)).html).toContain("No comments yet.");
  });

  test("refusals are a page saying why, and change nothing", async () => {
    const loop = await insertReadyPost(env, mira.auth.user.id);
    const b = await signedIn(fan);
    const page = await b.get(`/l/${loop}`);
    const before = await rows();
    const empty = await b.post(`/l/${loop}/comments`, formOf(page, `/l/${loop}/comments`, { content: "   " }));
    expect(empty.status).toBe(400);
    expect(empty.html).toContain("Comment not saved");
    expect(empty.html).toContain("Write something");
    const late = await b.post(`/l/${loop}/comments`, formOf(page, `/l/${loop}/comments`, { content: "ok", at: "999" }));
    expect(late.status).toBe(400);
    const noCsrf = await b.post(`/l/${loop}/comments`, { content: "forged" });
    expect(noCsrf.status).toBe(403);
    // Someone else's comment cannot be deleted from a forged form.
    const o = await signedIn(other);
    const oPage = await o.get(`/l/${loop}`);
    await o.post(`/l/${loop}/comments`, formOf(oPage, `/l/${loop}/comments`, { content: "mine" }));
    const [theirs] = await env.deps.database.db.all<{ id: string }>(sql`SELECT id FROM comments WHERE post_id = ${loop}`);
    const forged = await b.post(`/comments/${theirs!.id}/remove`, { csrf: csrfOf(page), next: `/l/${loop}` });
    expect(forged.status).toBe(403);
    expect(await rows()).toBe(before + 1);
    // Comments off: no form, a note, and a post anyway is refused.
    await env.deps.database.db.update(posts).set({ commentAudience: "off" }).where(eq(posts.id, loop));
    const off = await b.get(`/l/${loop}`);
    expect(off.html).toContain("The producer turned comments off for this loop.");
    expect(off.html).not.toContain(`action="/l/${loop}/comments"`);
    const refused = await b.post(`/l/${loop}/comments`, { csrf: csrfOf(off), content: "hi" });
    expect(refused.status).toBe(403);
    expect(await rows()).toBe(before + 1);
  });

  test("signed out: the comments and a sign-in link, no form; the script gets JSON", async () => {
    const loop = await insertReadyPost(env, mira.auth.user.id);
    const b = await signedIn(fan);
    const page = await b.get(`/l/${loop}`);
    const res = await env.request(`/l/${loop}/comments`, {
      method: "POST",
      headers: {
        accept: "application/json",
        "content-type": "application/x-www-form-urlencoded",
        cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
      },
      body: new URLSearchParams(formOf(page, `/l/${loop}/comments`, { content: "via script" })).toString(),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ content: "via script", post_id: loop });
    const anon = await new Browser(env).get(`/l/${loop}`);
    expect(anon.html).toContain("via script");
    expect(anon.html).toContain(`/signin?next=${encodeURIComponent(`/l/${loop}#comments`)}`);
    expect(anon.html).not.toContain(`action="/l/${loop}/comments"`);
    const signedOut = await new Browser(env).post(`/l/${loop}/comments`, { content: "anon" }, false);
    expect(signedOut.status).toBe(403); // no CSRF token without a page
  });

  test("like and unlike, edit within the window (not after, not someone else's), from plain forms", async () => {
    const loop = await insertReadyPost(env, mira.auth.user.id);
    const b = await signedIn(fan);
    const first = await b.get(`/l/${loop}`);
    await b.post(`/l/${loop}/comments`, formOf(first, `/l/${loop}/comments`, { content: "hi @mira" }));
    const [c] = await env.deps.database.db.all<{ id: string }>(sql`SELECT id FROM comments WHERE post_id = ${loop}`);
    const m = await signedIn(mira);
    let hers = await m.get(`/l/${loop}`);
    expect(hers.html).toContain("♡ Like · 0");
    expect(hers.html).not.toContain(`action="/comments/${c!.id}/edit"`); // not hers to edit
    const liked = await m.post(`/comments/${c!.id}/like`, formOf(hers, `/comments/${c!.id}/like`, {}));
    expect(liked.url).toBe(`/l/${loop}#c-${c!.id}`);
    expect(liked.html).toContain("♥ Liked · 1");
    expect(liked.html).toContain('aria-pressed="true"');
    // A second submit of the same (stale) form is idempotent: like=1 again.
    await m.post(`/comments/${c!.id}/like`, formOf(hers, `/comments/${c!.id}/like`, {}));
    hers = await m.get(`/l/${loop}`);
    expect(hers.html).toContain("♥ Liked · 1");
    const unliked = await m.post(`/comments/${c!.id}/like`, formOf(hers, `/comments/${c!.id}/like`, {}));
    expect(unliked.html).toContain("♡ Like · 0");
    // Signed out, the count shows without a button.
    await m.post(`/comments/${c!.id}/like`, formOf(unliked, `/comments/${c!.id}/like`, {}));
    const anon = await new Browser(env).get(`/l/${loop}`);
    expect(anon.html).toContain("♥ 1");
    expect(anon.html).not.toContain(`action="/comments/${c!.id}/like"`);
    // Someone else cannot edit it, even with a forged form.
    const forged = await m.post(`/comments/${c!.id}/edit`, { csrf: csrfOf(hers), content: "hacked", next: `/l/${loop}` });
    expect(forged.status).toBe(403);
    // The author edits it from the page.
    const mine = await b.get(`/l/${loop}`);
    expect(mine.html).toContain(`action="/comments/${c!.id}/edit"`);
    const edited = await b.post(`/comments/${c!.id}/edit`, formOf(mine, `/comments/${c!.id}/edit`, { content: "hi @mira, great loop" }));
    expect(edited.url).toBe(`/l/${loop}#c-${c!.id}`);
    expect(edited.html).toContain("hi @mira, great loop");
    expect(edited.html).toContain("(edited)");
    const empty = await b.post(`/comments/${c!.id}/edit`, formOf(edited, `/comments/${c!.id}/edit`, { content: " " }));
    expect(empty.status).toBe(400);
    expect(empty.html).toContain("Write something");
    // After 15 minutes: no Edit, and a stale form is refused with the reason.
    env.clock.advance(16 * 60_000);
    const later = await b.get(`/l/${loop}`);
    expect(later.html).not.toContain(`action="/comments/${c!.id}/edit"`);
    const late = await b.post(`/comments/${c!.id}/edit`, formOf(edited, `/comments/${c!.id}/edit`, { content: "too late" }));
    expect(late.status).toBe(403);
    expect(late.html).toContain("15 minutes");
    const [row] = await env.deps.database.db.all<{ content: string }>(sql`SELECT content FROM comments WHERE id = ${c!.id}`);
    expect(row!.content).toBe("hi @mira, great loop");
  });

  test("pages of 50 comments: links to later and earlier ones, signed in and out", async () => {
    const loop = await insertReadyPost(env, mira.auth.user.id);
    for (let i = 1; i <= 51; i++) {
      const res = await env.request(`/api/v1/posts/${loop}/comments`, { method: "POST", token: other.auth.token, json: { content: `comment number ${i}.` } });
      expect(res.status).toBe(200);
      env.clock.advance(10);
    }
    const anon = new Browser(env);
    const one = await anon.get(`/l/${loop}`);
    expect(one.html).toContain("comment number 50.");
    expect(one.html).not.toContain("comment number 51.");
    expect(one.html).toContain(`href="/l/${loop}?comments=2#comments"`);
    const two = await anon.get(`/l/${loop}?comments=2`);
    expect(two.html).toContain("comment number 51.");
    expect(two.html).not.toContain("comment number 1.");
    expect(two.html).toContain(`href="/l/${loop}#comments"`);
    expect(two.html).not.toContain("?comments=3");
    // Nonsense page numbers are page 1.
    for (const q of ["0", "-1", "abc", "1e9", "2.5"]) expect((await anon.get(`/l/${loop}?comments=${q}`)).html).toContain("comment number 1.");
    // Signed in, forms on page 2 come back to page 2.
    const b = await signedIn(fan);
    const page2 = await b.get(`/l/${loop}?comments=2`);
    const [last] = await env.deps.database.db.all<{ id: string }>(sql`SELECT id FROM comments WHERE post_id = ${loop} ORDER BY created_at DESC LIMIT 1`);
    const liked = await b.post(`/comments/${last!.id}/like`, formOf(page2, `/comments/${last!.id}/like`, {}));
    expect(liked.url).toBe(`/l/${loop}?comments=2#c-${last!.id}`);
    expect(liked.html).toContain("♥ Liked · 1");
  });

  test("a reported comment in the staff's queue: they delete it (with its replies) from the page", async () => {
    const loop = await insertReadyPost(env, mira.auth.user.id);
    const post = (token: string, path: string, json: unknown) => env.request(`/api/v1${path}`, { method: "POST", token, json });
    const c = (await (await post(fan.auth.token, `/posts/${loop}/comments`, { content: "buy my beats at spam dot example" })).json()) as { id: string };
    await post(mira.auth.token, `/posts/${loop}/comments`, { content: "no thanks", parent_id: c.id });
    expect((await post(other.auth.token, `/comments/${c.id}/report`, { reason: "spam" })).status).toBe(200);
    const b = await signedIn(boss);
    const queue = await b.get("/admin/reports");
    expect(queue.html).toContain("comment by @fan: “buy my beats at spam dot example”");
    expect(queue.html).toContain('<option value="delete_comment">Delete the comment and its replies</option>');
    expect(queue.html).not.toContain('<option value="remove_loop">');
    const id = /action="\/admin\/reports\/([^/]+)\/resolve"/.exec(queue.html)![1]!;
    const closed = await b.post(`/admin/reports/${id}/resolve`, { csrf: csrfOf(queue), action: "delete_comment", note: "spam" });
    expect(closed.html).toContain("Report closed.");
    const [n] = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM comments WHERE post_id = ${loop}`);
    expect(Number(n!.n)).toBe(0);
    const [p] = await env.deps.database.db.select({ n: posts.commentCount }).from(posts).where(eq(posts.id, loop));
    expect(p!.n).toBe(0);
  });
});

// The comments under a loop's player (README "Comments"), in process with the plain forms (no script): a member
// comments (at a moment of the loop) and replies from the loop page, the producer sees both and deletes one, the
// author deletes their own; refusals come back as a page saying why and change nothing (no CSRF token, empty text,
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

// The notifications page (docs/architecture.md "Web app"), in process: notifications made through the API (follow,
// react) and the services, grouped as the API groups them, newest first; opening the page empties the badge;
// "Mark all as read" with and without the script; refusals (no CSRF token, signed out) change nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createNotification, notificationCounts } from "../../src/social/notifications.ts";
import { ago } from "../../src/web/notification-routes.tsx";
import { registerUser } from "../support/auth.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertReadyPost } from "../support/ready-posts.ts";

let env: TestEnv;
let mira: Awaited<ReturnType<typeof registerUser>>;
let fan: Awaited<ReturnType<typeof registerUser>>;
let kid: Awaited<ReturnType<typeof registerUser>>;
let loop: string;

async function signedIn(who: typeof mira) {
  const b = new Browser(env);
  await b.submit(await b.get("/signin"), { login: who.input.username, password: who.input.password });
  return b;
}
const badge = (html: string) => /<span class="badge" data-notif-badge( hidden)?>(\d+)<\/span>/.exec(html);
/** The token the page gives its script (<meta name="csrf-token">). */
const metaCsrf = (html: string) => /<meta name="csrf-token" content="([^"]+)"/.exec(html)?.[1] ?? "";

beforeAll(async () => {
  env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost" });
  mira = await registerUser(env, { username: "mira" });
  fan = await registerUser(env, { username: "fan", display_name: "Fan <b>Club</b>" });
  kid = await registerUser(env, { username: "kid" });
  loop = await insertReadyPost(env, mira.auth.user.id, "Night <i>drums</i>");
});
afterAll(() => env.close());

describe("the notifications page", () => {
  test("signed out: to sign in and back", async () => {
    const res = await env.request("/notifications");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/signin?next=%2Fnotifications");
  });

  test("empty state", async () => {
    const b = await signedIn(kid);
    const page = await b.get("/notifications");
    expect(page.status).toBe(200);
    expect(page.html).toContain("Nothing yet.");
    expect(page.html).not.toContain("Mark all as read");
  });

  test("who did what to which loop, grouped and newest first, unread marked; opening the page empties the badge", async () => {
    for (const who of [fan, kid]) {
      expect((await env.request(`/api/v1/users/${mira.auth.user.id}/follow`, { method: "PUT", token: who.auth.token })).status).toBeLessThan(300);
      env.clock.advance(1000);
    }
    const react = await env.request(`/api/v1/posts/${loop}/reaction`, { method: "PUT", token: fan.auth.token, json: { emoji: "🔥" } });
    expect(react.status).toBeLessThan(300);
    env.clock.advance(60_000);
    expect(await notificationCounts(env.deps, mira.auth.user.id)).toEqual({ unseen: 3, unread: 3 });

    const b = await signedIn(mira);
    const home = await b.get("/");
    expect(badge(home.html)?.[2]).toBe("3");
    const page = await b.get("/notifications");
    expect(page.headers.get("cache-control")).toBe("no-store");
    const html = page.html;
    // The reaction (newest) comes before the follows, which are one group: "kid and 1 other followed you".
    const reacted = html.indexOf(" reacted ");
    const followed = html.indexOf(" followed you");
    expect(reacted).toBeGreaterThan(0);
    expect(followed).toBeGreaterThan(reacted);
    expect(html).toContain(`<a href="/l/${loop}">Night &lt;i&gt;drums&lt;/i&gt;</a>`);
    expect(html).toContain("Fan &lt;b&gt;Club&lt;/b&gt;");
    expect(html).toContain('<a href="/@kid">kid</a><span> and 1 other</span> followed you');
    expect(html).toContain("🔥");
    expect(html).toContain("1 min ago");
    expect(html.match(/class="card notification unread"/g)?.length).toBe(2);
    expect(html.match(/Unread: /g)?.length).toBe(2);
    expect(html).toContain('action="/notifications/read"');
    // Seen now: the page's own badge is already empty, and stays so.
    expect(badge(html)?.[1]).toBe(" hidden");
    expect(await notificationCounts(env.deps, mira.auth.user.id)).toEqual({ unseen: 0, unread: 3 });
  });

  test("Mark all as read: refused without the CSRF token; with it, a 303 back and nothing unread; JSON for the script", async () => {
    const b = await signedIn(mira);
    const page = await b.get("/notifications");
    const refused = await b.post("/notifications/read", {}, false);
    expect(refused.status).toBe(303); // a plain form goes back to the page, unchanged
    const refusedJson = await b.fetch("/notifications/read", {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded", "x-csrf-token": "forged" },
      body: "",
    });
    expect(refusedJson.status).toBe(403);
    expect(await notificationCounts(env.deps, mira.auth.user.id)).toEqual({ unseen: 0, unread: 3 });

    const done = await b.post("/notifications/read", { csrf: csrfOf(page) }, false);
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe("/notifications");
    expect(await notificationCounts(env.deps, mira.auth.user.id)).toEqual({ unseen: 0, unread: 0 });
    const after = await b.get("/notifications");
    expect(after.html).not.toContain("unread");
    expect(after.html).not.toContain("Mark all as read");

    await createNotification(env.deps, env.deps.database.db, { kind: "follow", userId: mira.auth.user.id, actorId: fan.auth.user.id });
    const js = await b.fetch("/notifications/read", {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded", "x-csrf-token": metaCsrf(after.html) },
      body: "",
    });
    expect(js.status).toBe(200);
    expect(JSON.parse(js.html)).toMatchObject({ ok: true, unseen: 0, unread: 0 });
  });

  test("signed out, Mark all as read goes to sign in; another user's notifications are untouched", async () => {
    const anon = new Browser(env);
    const csrf = csrfOf(await anon.get("/signin"));
    const res = await anon.post("/notifications/read", { csrf }, false);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/signin?next=%2Fnotifications");
    await createNotification(env.deps, env.deps.database.db, { kind: "follow", userId: kid.auth.user.id, actorId: mira.auth.user.id });
    const b = await signedIn(fan);
    await b.post("/notifications/read", { csrf: csrfOf(await b.get("/notifications")) }, false);
    expect((await notificationCounts(env.deps, kid.auth.user.id)).unread).toBe(1);
  });

  test("'More' pages through; a hand-edited cursor is the first page again", async () => {
    for (let i = 0; i < 25; i++) {
      const post = await insertReadyPost(env, kid.auth.user.id, `Kid loop ${i}`);
      env.clock.advance(1000);
      await createNotification(env.deps, env.deps.database.db, {
        kind: "reaction",
        userId: kid.auth.user.id,
        actorId: fan.auth.user.id,
        postId: post,
        emoji: "💯",
      });
    }
    const b = await signedIn(kid);
    const first = await b.get("/notifications");
    expect(first.html).toContain("Kid loop 24");
    expect(first.html).not.toContain("Kid loop 4<");
    const more = /href="(\/notifications\?cursor=[^"]+)"/.exec(first.html)?.[1];
    expect(more).toBeDefined();
    const second = await b.get(more!);
    expect(second.html).toContain("Kid loop 4<");
    expect(second.html).toContain("followed you");
    expect(second.html).not.toContain("/notifications?cursor=");
    const bad = await b.get("/notifications?cursor=not-ours", false);
    expect(bad.status).toBe(303);
    expect(bad.headers.get("location")).toBe("/notifications");
  });

  test("times read as people say them", () => {
    const now = Date.parse("2026-05-10T12:00:00Z");
    expect(ago("2026-05-10T11:59:30Z", now)).toBe("just now");
    expect(ago("2026-05-10T09:00:00Z", now)).toBe("3 h ago");
    expect(ago("2026-05-08T12:00:00Z", now)).toBe("2 d ago");
    expect(ago("2026-01-02T12:00:00Z", now)).toBe("2026-01-02");
  });
});

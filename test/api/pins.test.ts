// Loops pinned to a producer's profile, as the plugin pins them (plugin/src/network/api/SocialClient.cpp: pinPost is
// a POST without a body and unpinPost a DELETE, so both reach us as GET /posts/{id}/pin; updatePinOrder is a PUT with
// {order}, which arrives as POST; isPostPinned reads /posts/{id}/pinned; plugin/src/models/FeedPost.cpp reads
// is_pinned and pin_order), and as the web app shows them: first on the profile, in the producer's order.
import { afterEach, describe, expect, test } from "bun:test";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { expectError, json, registerProducer, registerUser, type Producer } from "../support/auth.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { postTypeProblems } from "../support/post-shape.ts";
import { insertPost, insertReadyPost } from "../support/ready-posts.ts";

let env: TestEnv;
afterEach(() => env?.close());

// The plugin sends Content-Type: application/json on GETs too.
const get = (path: string, who?: Producer) => env.request(`/api/v1${path}`, { token: who?.token, headers: { "content-type": "application/json" } });
const send = (method: "POST" | "PUT" | "DELETE", path: string, who: Producer, body?: unknown) =>
  env.request(`/api/v1${path}`, { method, token: who.token, ...(body === undefined ? {} : { json: body }) });
const pinnedIds = async (userId: string) => ((await json(await get(`/users/${userId}/pinned`))).posts as { id: string }[]).map((p) => p.id);

describe("pins", () => {
  test("the plugin's toggle, at most three, the order moved and closed up, the state on every post", async () => {
    env = await createTestEnv("sqlite");
    const me = await registerProducer(env);
    const loops: string[] = [];
    for (const t of ["A", "B", "C", "D"]) loops.push(await insertReadyPost(env, me.id, t));
    const [a, b, c, d] = loops as [string, string, string, string];

    expect(await json(await get(`/posts/${a}/pin`, me))).toEqual({ is_pinned: true, pin_order: 1 });
    expect(await json(await send("POST", `/posts/${b}/pin`, me))).toEqual({ is_pinned: true, pin_order: 2 });
    expect(await json(await send("POST", `/posts/${b}/pin`, me))).toEqual({ is_pinned: true, pin_order: 2 });
    expect(await json(await get(`/posts/${c}/pin`, me))).toEqual({ is_pinned: true, pin_order: 3 });
    await expectError(await get(`/posts/${d}/pin`, me), 409, "pin_limit");
    expect(await pinnedIds(me.id)).toEqual([a, b, c]);

    // The plugin's reorder (a PUT with a body, arriving as POST) and PUT itself.
    expect(await json(await send("POST", `/posts/${c}/pin-order`, me, { order: 1 }))).toEqual({ is_pinned: true, pin_order: 1 });
    expect(await pinnedIds(me.id)).toEqual([c, a, b]);
    expect(await json(await send("PUT", `/posts/${c}/pin-order`, me, { order: 3 }))).toEqual({ is_pinned: true, pin_order: 3 });
    expect(await pinnedIds(me.id)).toEqual([a, b, c]);
    await expectError(await send("POST", `/posts/${c}/pin-order`, me, { order: 4 }), 400, "validation_error");
    await expectError(await send("POST", `/posts/${d}/pin-order`, me, { order: 1 }), 409, "not_pinned");

    // Unpinning (the plugin's DELETE, also a GET) closes the gap; so does the next change after a deletion.
    expect(await json(await get(`/posts/${a}/pin`, me))).toEqual({ is_pinned: false, pin_order: 0 });
    expect(await json(await get(`/posts/${b}/pinned`))).toEqual({ is_pinned: true, pin_order: 1 });
    expect((await send("DELETE", `/posts/${b}`, me)).status).toBe(200);
    expect(await json(await send("POST", `/posts/${d}/pin`, me))).toEqual({ is_pinned: true, pin_order: 2 });
    expect(await pinnedIds(me.id)).toEqual([c, d]);
    expect(await json(await send("DELETE", `/posts/${d}/pin`, me))).toEqual({ is_pinned: false, pin_order: 0 });

    const feed = (await json(await get("/feed/global?limit=10"))).posts as Record<string, unknown>[];
    for (const p of feed) expect(postTypeProblems(p)).toEqual([]);
    expect(feed.find((p) => p.id === c)).toMatchObject({ is_pinned: true, pin_order: 1 });
    expect(feed.find((p) => p.id === a)).toMatchObject({ is_pinned: false, pin_order: 0 });
  });

  test("only your own published loops; hidden ones answer as unknown; no token is 401", async () => {
    env = await createTestEnv("sqlite");
    const [me, other] = [await registerProducer(env), await registerProducer(env)];
    const theirs = await insertReadyPost(env, other.id, "Theirs");
    const draft = await insertPost(env, me.id, "Draft");
    await expectError(await get(`/posts/${theirs}/pin`, me), 404, "post_not_found");
    await expectError(await send("POST", `/posts/${theirs}/pin-order`, me, { order: 1 }), 404, "post_not_found");
    await expectError(await get(`/posts/${draft}/pin`, me), 409, "post_not_ready");
    await expectError(await get("/posts/no-such-loop/pinned"), 404, "post_not_found");
    await expectError(await get(`/posts/${theirs}/pin`), 401, "unauthorized");
    expect(await json(await get(`/posts/${theirs}/pinned`, me))).toEqual({ is_pinned: false, pin_order: 0 });
    expect((await get(`/posts/${theirs}/pin`, other)).status).toBe(200);
    expect((await send("POST", "/social/block", other, { target_user_id: me.id })).status).toBe(201);
    expect(await json(await get(`/users/${other.id}/pinned`, me))).toEqual({ posts: [] });
    await expectError(await get(`/posts/${theirs}/pinned`, me), 404, "post_not_found");
  });
});

describe("pins in the web app", () => {
  test("the owner pins from the loop page; the profile opens with them; the fourth is refused with the reason", async () => {
    env = await createTestEnv("sqlite");
    const mira = await registerUser(env, { username: "mira" });
    const loops: string[] = [];
    for (const t of ["One", "Two", "Three", "Four"]) loops.push(await insertReadyPost(env, mira.auth.user.id, `Pinned ${t}`));
    const b = new Browser(env);
    await b.submit(await b.get("/signin"), { login: mira.input.username, password: mira.input.password });
    for (const id of loops.slice(0, 3)) {
      const page = await b.get(`/l/${id}`);
      expect(page.html).toContain('aria-pressed="false">📌 Pin to your profile</button>');
      const after = await b.post(`/l/${id}/pin`, { csrf: csrfOf(page), pin: "1" });
      expect(after.html).toContain('aria-pressed="true">📌 Pinned to your profile</button>');
    }
    const fourth = await b.get(`/l/${loops[3]}`);
    const refused = await b.post(`/l/${loops[3]}/pin`, { csrf: csrfOf(fourth), pin: "1" });
    expect(refused.html).toContain("At most 3 loops can be pinned: unpin one first");
    const profile = await new Browser(env).get("/@mira");
    const pinned = profile.html.slice(profile.html.indexOf('<h2 id="pinned">'), profile.html.indexOf('<h2 id="loops">'));
    expect(pinned.indexOf("Pinned One")).toBeLessThan(pinned.indexOf("Pinned Two"));
    expect(pinned.indexOf("Pinned Two")).toBeLessThan(pinned.indexOf("Pinned Three"));
    expect(pinned).not.toContain("Pinned Four");
    // A visitor sees no pin button on someone else's loop.
    expect((await new Browser(env).get(`/l/${loops[0]}`)).html).not.toContain("📌");
  });
});

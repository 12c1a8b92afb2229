// The follows and reactions services publish their events themselves, once their transaction has committed: a
// change made inside a caller's transaction that rolls back reaches nobody, one that commits is announced after
// the commit, with the owner the service already read, and a repeat of a follow announces nothing.
import { afterEach, beforeEach, expect, test } from "bun:test";
import type { RealtimeEvent } from "../realtime/bus.ts";
import { registerProducer, type Producer } from "../../test/support/auth.ts";
import { createTestEnv, type TestEnv } from "../../test/support/deps.ts";
import { insertReadyPost } from "../../test/support/ready-posts.ts";
import { eventually } from "../../test/support/realtime.ts";
import { followUser, unfollowUser } from "./follows.ts";
import { removeReaction, setReaction } from "./reactions.ts";

let env: TestEnv;
let events: RealtimeEvent[];
let star: Producer;
let fan: Producer;
beforeEach(async () => {
  env = await createTestEnv();
  [star, fan] = [await registerProducer(env), await registerProducer(env)];
  events = [];
  env.deps.bus.subscribe((e) => void events.push(e));
});
afterEach(() => env.close());

/** Waits until `n` events have been delivered (the bus delivers on a microtask, a notification after its read). */
const delivered = (n: number) => eventually(() => events.length >= n, 10_000, `${n} events`);
const types = () => events.map((e) => (e.type === "follow" ? `${e.type}:${e.following}` : e.type));

test("a follow and a reaction rolled back with the caller's transaction publish nothing", async () => {
  const postId = await insertReadyPost(env, star.id);
  await expect(
    env.deps.database.tx(async () => {
      await followUser(env.deps, fan.id, star.id);
      await setReaction(env.deps, fan.id, postId, "🔥");
      expect(events).toEqual([]); // not before the commit either
      throw new Error("roll back");
    }),
  ).rejects.toThrow("roll back");
  // The bus delivers in publish order: once a later, committed follow has arrived, nothing earlier is on its way.
  await followUser(env.deps, star.id, fan.id);
  await delivered(2);
  expect(events).toEqual([
    expect.objectContaining({ type: "follow", follower_id: star.id }),
    expect.objectContaining({ type: "notification", user_id: fan.id }),
  ]);
});

test("committed changes are published after the commit; a repeated follow is not", async () => {
  const postId = await insertReadyPost(env, star.id);
  await env.deps.database.tx(async () => {
    await followUser(env.deps, fan.id, star.id);
    expect(events).toEqual([]);
  });
  await followUser(env.deps, fan.id, star.id); // a retry: no event
  await setReaction(env.deps, fan.id, postId, "🔥");
  await removeReaction(env.deps, fan.id, postId);
  await unfollowUser(env.deps, fan.id, star.id);
  await delivered(6);
  // Changes in their order; each notification goes out after its own read, so it may land between them.
  expect(types().filter((t) => t !== "notification")).toEqual(["follow:true", "reaction", "reaction", "follow:false"]);
  const pushed = events.flatMap((e) => (e.type === "notification" ? [[e.user_id, e.notification.kind]] : []));
  expect(pushed.sort()).toEqual([
    [star.id, "follow"],
    [star.id, "reaction"],
  ]);
  expect(events.filter((e) => e.type === "reaction")).toEqual([
    expect.objectContaining({ post_id: postId, owner_id: star.id, actor_id: fan.id, liked: true, emoji: "🔥", like_count: 1 }),
    expect.objectContaining({ post_id: postId, owner_id: star.id, actor_id: fan.id, liked: false, emoji: "", like_count: 0 }),
  ]);
});

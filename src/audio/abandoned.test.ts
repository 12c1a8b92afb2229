// A post left `processing` by a process-loop job that failed for good without marking it (its process died on
// the last attempt): GET /audio/status answers failed without writing, and failAbandonedPosts (the periodic task
// started in index.ts) marks the row failed once, removing its media.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { posts } from "../db/schema.ts";
import * as q from "../jobs/queries.ts";
import { json, registerProducer, type Producer } from "../../test/support/auth.ts";
import { createTestEnv, type TestEnv } from "../../test/support/deps.ts";
import { insertPost, insertReadyPost } from "../../test/support/ready-posts.ts";
import { failAbandonedPosts, PROCESS_LOOP, processLoopKey } from "./process-loop.ts";

let env: TestEnv;
let me: Producer;
beforeEach(async () => {
  env = await createTestEnv();
  me = await registerProducer(env);
});
afterEach(() => env.close());

const postRow = async (id: string) => (await env.deps.database.db.select().from(posts).where(eq(posts.id, id)))[0]!;

/** A post whose job was claimed on its only attempt and whose worker then died: the queue fails the job alone. */
async function abandonedPost(): Promise<string> {
  const postId = await insertPost(env, me.id);
  await env.deps.jobs.enqueue(PROCESS_LOOP, { postId }, { dedupeKey: processLoopKey(postId), maxAttempts: 1 });
  const { db } = env.deps.database;
  expect(await q.claimNext(db, { types: [PROCESS_LOOP], worker: "dead", now: env.clock.now(), leaseMs: 1000 })).toBeDefined();
  env.clock.advance(2000);
  expect(await q.failLostFinalAttempts(db, env.clock.now())).toHaveLength(1);
  return postId;
}

test("the status answers failed for an abandoned post without writing; the sweep marks it failed once", async () => {
  const postId = await abandonedPost();
  const processing = await insertPost(env, me.id); // its job is still queued: left alone
  await env.deps.jobs.enqueue(PROCESS_LOOP, { postId: processing }, { dedupeKey: processLoopKey(processing) });
  await env.deps.storage.put(`loops/${postId}/${"0".repeat(32)}.wav`, new TextEncoder().encode("RIFF"));

  const before = await json(await env.request(`/api/v1/audio/status/${postId}`, { token: me.token }));
  expect(before).toMatchObject({ status: "failed", error: "processing_failed", message: "The loop could not be processed", post: { status: "failed" } });
  expect((await postRow(postId)).status).toBe("processing"); // the GET only read

  expect(await failAbandonedPosts(env.deps)).toBe(1);
  expect(await postRow(postId)).toMatchObject({ status: "failed", errorCode: "processing_failed" });
  expect(await env.deps.storage.head(`loops/${postId}/${"0".repeat(32)}.wav`)).toBeNull();
  expect((await postRow(processing)).status).toBe("processing");
  const after = await json(await env.request(`/api/v1/audio/status/${postId}`, { token: me.token }));
  expect(after).toEqual(before);

  expect(await failAbandonedPosts(env.deps)).toBe(0);
});

test("the sweep marks every abandoned post, and nothing when there is none", async () => {
  expect(await failAbandonedPosts(env.deps)).toBe(0);
  await insertReadyPost(env, me.id);
  const ids = [await abandonedPost(), await abandonedPost()];
  expect(await failAbandonedPosts(env.deps)).toBe(2);
  for (const id of ids) expect((await postRow(id)).status).toBe("failed");
});

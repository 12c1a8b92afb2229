// The "sessions revoked" notice that closes a user's WebSockets goes out once the revocation has committed, and
// never for a revocation that was rolled back (docs/architecture.md, Database: the after-commit hook).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { revokeUserSessions } from "../../src/auth/sessions.ts";
import { sessions } from "../../src/db/schema.ts";
import type { RealtimeEvent } from "../../src/realtime/bus.ts";
import { registerProducer } from "../support/auth.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

/** Every sessions_revoked event, with whether the user's sessions were revoked in the database when it arrived. */
function watch() {
  const seen: { user: string; revokedInDb: boolean }[] = [];
  const pending: Promise<void>[] = [];
  const off = env.deps.bus.subscribe((e: RealtimeEvent) => {
    if (e.type !== "sessions_revoked") return;
    pending.push(
      (async () => {
        const rows = await env.deps.database.db.select().from(sessions).where(eq(sessions.userId, e.user_id));
        seen.push({ user: e.user_id, revokedInDb: rows.length > 0 && rows.every((r) => r.revokedAt !== null) });
      })(),
    );
  });
  return { seen, settle: async () => (await Bun.sleep(20), await Promise.all(pending), off()) };
}

test("a revocation rolled back with its transaction sends no notice", async () => {
  const user = await registerProducer(env);
  const w = watch();
  await expect(
    env.deps.database.tx(async (tx) => {
      await revokeUserSessions(env.deps, user.id, "test", { db: tx });
      throw new Error("the rest of the change failed");
    }),
  ).rejects.toThrow("the rest of the change failed");
  await w.settle();
  expect(w.seen).toEqual([]);
});

test("a revocation inside a transaction is announced once, after it committed", async () => {
  const user = await registerProducer(env);
  const w = watch();
  await env.deps.database.tx(async (tx) => {
    await revokeUserSessions(env.deps, user.id, "test", { db: tx });
    await Bun.sleep(5); // still open: nothing may be announced yet
  });
  await w.settle();
  expect(w.seen).toEqual([{ user: user.id, revokedInDb: true }]);
});

// Reports and the staff's queue (docs/security.md "Roles and staff actions"), through the API as people use it: a
// member reports a loop or an account (refused for their own, for what they cannot see, twice while open, and past
// the hourly limit); staff see the open queue oldest first and close a report by dismissing it, removing the loop
// (gone from everywhere, its producer mailed the reason, post_count exact) or suspending the account; every open
// report of the target closes and each reporter is mailed; members cannot see or act on the queue.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { auditLog, posts, users } from "../../src/db/schema.ts";
import { json, mailTo, registerUser } from "../support/auth.ts";
import { Browser } from "../support/browser.ts";
import { sidechain } from "../support/cli.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertPost, insertReadyPost } from "../support/ready-posts.ts";

let env: TestEnv;
let owner: Awaited<ReturnType<typeof registerUser>>;
let mira: Awaited<ReturnType<typeof registerUser>>;
let fan: Awaited<ReturnType<typeof registerUser>>;
let other: Awaited<ReturnType<typeof registerUser>>;
let loop: string;

const report = (token: string, body: Record<string, unknown>) => env.request("/api/v1/reports", { method: "POST", token, json: body });
const queue = async (token: string, q = "") => env.request(`/api/v1/admin/reports${q}`, { token });
const resolve = (token: string, id: string, body: Record<string, unknown>) =>
  env.request(`/api/v1/admin/reports/${id}/resolve`, { method: "POST", token, json: body });

beforeAll(async () => {
  env = await createTestEnv("sqlite", { INSTANCE_NAME: "Night Shift" });
  owner = await registerUser(env, { username: "boss" });
  mira = await registerUser(env, { username: "mira" });
  fan = await registerUser(env, { username: "fan" });
  other = await registerUser(env, { username: "other" });
  loop = await insertReadyPost(env, mira.auth.user.id, "Borrowed chords");
  await env.deps.database.db.update(users).set({ postCount: 1 }).where(eq(users.id, mira.auth.user.id));
});
afterAll(() => env.close());

describe("filing a report", () => {
  test("a loop or an account, with a reason and a note; 201 and it is in the staff's queue", async () => {
    const r = await report(fan.auth.token, { target_type: "post", target_id: loop, reason: "copyright", note: "A sample of a released record." });
    expect(r.status).toBe(201);
    expect(await json(r)).toMatchObject({ status: "open" });
    const q = await json(await queue(owner.auth.token));
    expect(q.reports).toHaveLength(1);
    expect(q.reports[0]).toMatchObject({
      reporter_id: fan.auth.user.id,
      target_type: "post",
      target_id: loop,
      target_user_id: mira.auth.user.id,
      target_label: "Borrowed chords",
      reason: "copyright",
      note: "A sample of a released record.",
      status: "open",
    });
  });

  test("refused: twice while open (409), your own loop or yourself, what you cannot see, a bad reason or note; nothing is filed", async () => {
    const again = await report(fan.auth.token, { target_type: "post", target_id: loop, reason: "spam" });
    expect([again.status, (await json(again)).error]).toEqual([409, "already_reported"]);
    expect((await report(mira.auth.token, { target_type: "post", target_id: loop, reason: "spam" })).status).toBe(400);
    expect((await report(fan.auth.token, { target_type: "user", target_id: "fan", reason: "spam" })).status).toBe(400);
    const draft = await insertPost(env, mira.auth.user.id, "Not ready");
    expect((await report(fan.auth.token, { target_type: "post", target_id: draft, reason: "spam" })).status).toBe(404);
    expect((await report(fan.auth.token, { target_type: "user", target_id: "nobody_here", reason: "spam" })).status).toBe(404);
    expect((await report(fan.auth.token, { target_type: "user", target_id: "mira", reason: "because" })).status).toBe(400);
    expect((await report(fan.auth.token, { target_type: "user", target_id: "mira", reason: "other", note: "a\u202Eb" })).status).toBe(400);
    expect((await env.request("/api/v1/reports", { method: "POST", json: { target_type: "user", target_id: "mira", reason: "spam" } })).status).toBe(401);
    expect((await json(await queue(owner.auth.token))).reports).toHaveLength(1);
  });

  test("members cannot see or act on the queue", async () => {
    expect((await queue(fan.auth.token)).status).toBe(403);
    const q = await json(await queue(owner.auth.token));
    expect((await resolve(fan.auth.token, q.reports[0].id, { action: "dismiss" })).status).toBe(403);
  });
});

describe("closing reports", () => {
  test("removing the loop: gone from its page and the feeds, the producer mailed why, every report of it closed, reporters mailed", async () => {
    expect((await report(other.auth.token, { target_type: "post", target_id: loop, reason: "copyright" })).status).toBe(201);
    const q = await json(await queue(owner.auth.token));
    expect(q.reports).toHaveLength(2);
    const noWhy = await resolve(owner.auth.token, q.reports[0].id, { action: "remove_loop" });
    expect([noWhy.status, (await json(noWhy)).error]).toEqual([400, "validation_error"]);
    // Renamed just before (through the API, which renders no page): the mails name the community as it is now.
    const renamed = await env.request("/api/v1/admin/settings", { method: "PUT", token: owner.auth.token, json: { name: "Night Shift Two" } });
    expect(renamed.status).toBe(200);
    const done = await resolve(owner.auth.token, q.reports[0].id, { action: "remove_loop", note: "Uses an uncleared sample." });
    expect(done.status).toBe(200);
    expect(await json(done)).toMatchObject({
      status: "closed",
      resolution: "loop_removed",
      resolved_by: "@boss",
      resolution_note: "Uses an uncleared sample.",
    });
    expect((await json(await queue(owner.auth.token))).reports).toEqual([]);
    expect((await json(await queue(owner.auth.token, "?status=closed"))).reports).toHaveLength(2);
    expect((await env.request(`/api/v1/posts/${loop}`)).status).toBe(404);
    expect((await env.request(`/l/${loop}`)).status).toBe(404);
    expect(JSON.stringify(await json(await env.request("/api/v1/feed/global")))).not.toContain(loop);
    const [p] = await env.deps.database.db.select().from(posts).where(eq(posts.id, loop));
    expect([p!.status, p!.error]).toEqual(["removed", "Uses an uncleared sample."]);
    expect((await env.deps.database.db.select().from(users).where(eq(users.id, mira.auth.user.id)))[0]!.postCount).toBe(0);
    const [toProducer] = await mailTo(env, mira.input.email);
    expect(toProducer!.subject).toBe('Your loop "Borrowed chords" was removed');
    expect(toProducer!.text).toContain("Their reason: Uses an uncleared sample.");
    expect(toProducer!.text).toContain('The staff of Night Shift Two removed your loop "Borrowed chords".');
    // Its producer still finds the loop's page, and it says why it was taken down.
    const producer = new Browser(env);
    await producer.submit(await producer.get("/signin"), { login: mira.input.username, password: mira.input.password });
    expect((await producer.get(`/l/${loop}`)).html).toContain("The staff of this community took this loop down. Their reason: Uses an uncleared sample.");
    for (const who of [fan, other]) {
      const [m] = await mailTo(env, who.input.email);
      expect(m!.subject).toBe("Your report about Borrowed chords was reviewed");
      expect(m!.text).toContain("They removed the loop.");
    }
    const again = await resolve(owner.auth.token, q.reports[1].id, { action: "dismiss" });
    expect([again.status, (await json(again)).error]).toEqual([409, "report_closed"]);
    const [entry] = await env.deps.database.db.select().from(auditLog).where(eq(auditLog.action, "report.resolve"));
    expect(entry).toMatchObject({ actor: "@boss", details: { outcome: "loop_removed", reports_closed: 2 } });
  });

  test("deleting the loop: its row, reactions and stored files go, counts stay exact, the producer and reporters are told", async () => {
    const doomed = await insertReadyPost(env, mira.auth.user.id, "Stolen drums");
    const [row] = await env.deps.database.db.select().from(posts).where(eq(posts.id, doomed));
    await env.deps.storage.put(row!.audioKey, new Blob(["mp3 bytes"]));
    const react = await env.request(`/api/v1/posts/${doomed}/reaction`, { method: "POST", token: fan.auth.token, json: { emoji: "🔥" } });
    expect(react.status).toBeLessThan(300);
    const filed = await report(fan.auth.token, { target_type: "post", target_id: doomed, reason: "copyright" });
    const before = (await env.deps.database.db.select().from(users).where(eq(users.id, mira.auth.user.id)))[0]!.postCount;
    const done = await resolve(owner.auth.token, (await json(filed)).id, { action: "delete_loop", note: "The drums are from a paid pack." });
    expect(await json(done)).toMatchObject({ status: "closed", resolution: "loop_deleted" });
    expect(await env.deps.database.db.select().from(posts).where(eq(posts.id, doomed))).toEqual([]);
    expect(await env.deps.storage.exists(row!.audioKey)).toBe(false);
    expect((await env.deps.database.db.select().from(users).where(eq(users.id, mira.auth.user.id)))[0]!.postCount).toBe(before - 1);
    expect((await env.request(`/l/${doomed}`)).status).toBe(404);
    const [toProducer] = await mailTo(env, mira.input.email);
    expect(toProducer!.subject).toBe('Your loop "Stolen drums" was deleted');
    expect(toProducer!.text).toContain("Their reason: The drums are from a paid pack.");
    const [toFan] = await mailTo(env, fan.input.email);
    expect(toFan!.text).toContain("They deleted the loop.");
  });

  test("suspending the account from a report, and dismissing one", async () => {
    const a = await report(fan.auth.token, { target_type: "user", target_id: "other", reason: "harassment", note: "Threats in DMs." });
    const b = await report(mira.auth.token, { target_type: "user", target_id: "other", reason: "spam" });
    expect([a.status, b.status]).toEqual([201, 201]);
    const mod = await env.request(`/api/v1/admin/users/${mira.auth.user.id}/role`, { method: "POST", token: owner.auth.token, json: { role: "moderator" } });
    expect(mod.status).toBe(200);
    const modToken = (await json(await env.request("/api/v1/auth/login", { method: "POST", json: { email: "mira", password: mira.input.password } }))).auth
      .token;
    const id = (await json(a)).id;
    expect((await resolve(modToken, id, { action: "remove_loop", note: "x" })).status).toBe(400); // an account is not a loop
    const done = await resolve(modToken, id, { action: "suspend_user", note: "Harassment." });
    expect(await json(done)).toMatchObject({ resolution: "user_suspended", resolved_by: "@mira" });
    const login = await env.request("/api/v1/auth/login", { method: "POST", json: { email: "other", password: other.input.password } });
    expect([login.status, (await json(login)).error]).toEqual([403, "account_suspended"]);
    expect((await json(await queue(modToken))).reports).toEqual([]);

    const c = await report(fan.auth.token, { target_type: "user", target_id: "boss", reason: "other", note: "Just checking" });
    const dismissed = await resolve(modToken, (await json(c)).id, { action: "dismiss" });
    expect(await json(dismissed)).toMatchObject({ resolution: "dismissed" });
    const [m] = await mailTo(env, fan.input.email);
    expect(m!.text).toContain("They looked at it and took no action.");
  });

  test("the command line: list the queue, close a report (audited as cli), read the audit log; mistakes change nothing", async () => {
    const cli = (...args: string[]) => sidechain({ DATA_DIR: env.deps.config.DATA_DIR }, ...args);
    const witness = await registerUser(env, { username: "witness" });
    const filed = await report(witness.auth.token, { target_type: "user", target_id: "fan", reason: "spam", note: "Links\nto a shop" });
    const id = (await json(filed)).id as string;
    const list = await cli("report", "list");
    expect(list.code).toBe(0);
    expect(list.out).toContain(`${id}  `);
    expect(list.out).toContain("account @fan  spam: Links to a shop");
    expect((await cli("report", "resolve", id, "--action", "suspend_user")).code).toBe(1); // a suspension needs a note
    expect((await cli("report", "resolve", id, "--action", "ban")).code).toBe(2);
    expect((await cli("report", "resolve", "--action", "dismiss")).code).toBe(2);
    expect((await cli("report", "close", id)).code).toBe(2);
    const unknown = await cli("report", "resolve", "no-such-report", "--action", "dismiss");
    expect([unknown.code, unknown.err]).toEqual([1, "sidechain report resolve: No such report"]);
    expect((await json(await queue(owner.auth.token))).reports.map((r: { id: string }) => r.id)).toContain(id);
    const done = await cli("report", "resolve", id, "--action", "dismiss", "--note", "Not spam");
    expect([done.code, done.out]).toEqual([0, `Report ${id} closed: dismissed.`]);
    expect((await cli("report", "list", "--closed")).out).toContain("→ dismissed by cli: Not spam");
    const log = await cli("audit", "--limit", "1");
    expect(log.code).toBe(0);
    expect(log.out).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d {2}cli {14}report.resolve {5}report @fan: Not spam$/);
    expect((await cli("audit", "--limit", "0")).code).toBe(2);
  });

  test("the hourly limit on reports", async () => {
    const spammer = await registerUser(env, { username: "reporter" });
    let last = 0;
    for (let i = 0; i < 25 && last !== 429; i++) {
      last = (await report(spammer.auth.token, { target_type: "user", target_id: "mira", reason: "spam" })).status;
    }
    expect(last).toBe(429);
  });
});

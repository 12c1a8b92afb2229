// /admin, the staff's pages (README "Operating a community"), in process as a browser uses them: who may see them,
// and each form doing what the API does (suspend with its reason, the role, reports, settings, a failed job's retry),
// with the outcome shown on the page after the 303 and refusals shown, not thrown.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { jobs, users } from "../../src/db/schema.ts";
import { registerUser } from "../support/auth.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertReadyPost } from "../support/ready-posts.ts";

let env: TestEnv;
let owner: Awaited<ReturnType<typeof registerUser>>;
let mira: Awaited<ReturnType<typeof registerUser>>;
let fan: Awaited<ReturnType<typeof registerUser>>;

async function signedIn(who: typeof fan) {
  const b = new Browser(env);
  await b.submit(await b.get("/signin"), { login: who.input.username, password: who.input.password });
  return b;
}
const row = async (id: string) => (await env.deps.database.db.select().from(users).where(eq(users.id, id)))[0]!;

beforeAll(async () => {
  env = await createTestEnv("sqlite");
  owner = await registerUser(env, { username: "boss" });
  mira = await registerUser(env, { username: "mira" });
  fan = await registerUser(env, { username: "fan" });
});
afterAll(() => env.close());

describe("/admin", () => {
  test("signed out: the sign-in page; a member: 403; staff: every section", async () => {
    const anon = new Browser(env);
    const first = await anon.get("/admin/users", false);
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/signin?next=%2Fadmin%2Fusers");
    const member = await signedIn(fan);
    const refused = await member.get("/admin");
    expect(refused.status).toBe(403);
    expect(refused.html).toContain("Staff only");
    const b = await signedIn(owner);
    for (const path of ["/admin", "/admin/users", "/admin/reports", "/admin/settings", "/admin/jobs", "/admin/mail", "/admin/audit"]) {
      const page = await b.get(path);
      expect(page.status).toBe(200);
      expect(page.headers.get("cache-control")).toBe("no-store");
      expect(page.html).toContain('aria-label="Admin sections"');
    }
    const overview = await b.get("/admin");
    expect(overview.html).toContain("<dt>Accounts</dt><dd>3</dd>");
    expect(overview.html).toMatch(/<dt>Database \(SQLite file \+ WAL\)<\/dt><dd>[\d.]+ [KMG]B<\/dd>/);
    expect(overview.html).toContain("<dt>Originals uploaded</dt>");
    expect(overview.html).toMatch(/<dt>Media on disk<\/dt><dd>[\d.]+ [KMG]B in \d+ files<\/dd>/);
    // Staff have a link to these pages in the header; members do not.
    expect(overview.html).toContain('href="/admin" aria-current="page"');
    expect((await member.get("/")).html).not.toContain('href="/admin"');
  });

  test("accounts: find, suspend (a reason is required, the refusal shown), unsuspend, role, delete with its box ticked", async () => {
    const b = await signedIn(owner);
    const found = await b.get("/admin/users?q=mir");
    expect(found.html).toContain("@mira");
    expect(found.html).not.toContain("@fan");
    const token = csrfOf(found);
    const noWhy = await b.post(`/admin/users/${fan.auth.user.id}/suspend`, { csrf: token, reason: " " });
    expect(noWhy.url).toStartWith("/admin/users?error=");
    expect(noWhy.html).toContain("Some fields are invalid");
    expect((await row(fan.auth.user.id)).suspendedAt).toBeNull();
    const done = await b.post(`/admin/users/${fan.auth.user.id}/suspend`, { csrf: token, reason: "Spam in every bio" });
    expect(done.html).toContain("Account suspended.");
    expect(done.html).toContain("Suspended ");
    expect((await row(fan.auth.user.id)).suspensionReason).toBe("Spam in every bio");
    await b.post(`/admin/users/${fan.auth.user.id}/unsuspend`, { csrf: token });
    expect((await row(fan.auth.user.id)).suspendedAt).toBeNull();
    const role = await b.post(`/admin/users/${mira.auth.user.id}/role`, { csrf: token, role: "moderator" });
    expect(role.html).toContain("Role changed.");
    expect((await row(mira.auth.user.id)).role).toBe("moderator");
    const leaver = await registerUser(env, { username: "leaver" });
    const unticked = await b.post(`/admin/users/${leaver.auth.user.id}/delete`, { csrf: token });
    expect(unticked.html).toContain("Some fields are invalid");
    const gone = await b.post(`/admin/users/${leaver.auth.user.id}/delete`, { csrf: token, confirm: "1", reason: "asked to" });
    expect(gone.html).toContain("Account deleted.");
    expect(await env.deps.database.db.select().from(users).where(eq(users.id, leaver.auth.user.id))).toEqual([]);
    // Without the CSRF token nothing happens.
    await b.post(`/admin/users/${fan.auth.user.id}/suspend`, { csrf: "x".repeat(43), reason: "no" });
    expect((await row(fan.auth.user.id)).suspendedAt).toBeNull();
  });

  test("a moderator: reports closed from the page; settings read-only; roles not offered", async () => {
    const loop = await insertReadyPost(env, owner.auth.user.id, "Reported loop");
    // fan was suspended above, which ended their sessions: a fresh sign-in.
    const login = await env.request("/api/v1/auth/login", { method: "POST", json: { email: "fan", password: fan.input.password } });
    const token = ((await login.json()) as { auth: { token: string } }).auth.token;
    const filed = await env.request("/api/v1/reports", { method: "POST", token, json: { target_type: "post", target_id: loop, reason: "spam" } });
    expect(filed.status).toBe(201);
    const b = await signedIn(mira);
    const queue = await b.get("/admin/reports");
    expect(queue.html).toContain("Reported loop");
    const id = /action="\/admin\/reports\/([^/]+)\/resolve"/.exec(queue.html)![1]!;
    const closed = await b.post(`/admin/reports/${id}/resolve`, { csrf: csrfOf(queue), action: "dismiss" });
    expect(closed.html).toContain("Report closed.");
    expect(closed.html).toContain("No open reports.");
    const settings = await b.get("/admin/settings");
    expect(settings.html).toContain("Only an owner can change these.");
    const refused = await b.post("/admin/settings", { csrf: csrfOf(settings), name: "Mine" });
    expect(refused.html).toContain("Only an owner may change");
    expect((await b.get("/admin/users")).html).not.toContain("Set role");
    const audit = await b.get("/admin/audit");
    expect(audit.html).toContain("@mira report.resolve");
  });

  test("settings saved by the owner show on every page; a failed job is retried from the page", async () => {
    const b = await signedIn(owner);
    const form = await b.get("/admin/settings");
    const saved = await b.post("/admin/settings", {
      csrf: csrfOf(form),
      name: "Night Shift",
      description: "Loops after dark.",
      rules: "Be kind.",
      contact: "",
      registration: "open",
      members_invite: "yes",
      sign_in_to_view: "no",
      upload_quota_per_day: "20",
      upload_quota_mb: "0",
      approval_queue_limit: "100",
    });
    expect(saved.html).toContain("Settings saved.");
    expect(await (await env.request("/api/v1/instance")).json()).toMatchObject({ members_invite: true, upload_quota_per_day: 20, upload_quota_mb: 0 });
    const shown = await b.get("/admin/settings");
    expect(shown.html).toContain('<option value="yes" selected>Yes</option>');
    expect(shown.html).toContain('value="20"');
    const bad = await b.post("/admin/settings", { csrf: csrfOf(shown), upload_quota_per_day: "lots" });
    expect(bad.html).toContain("A whole number from 0 to 10000");
    expect((await b.get("/")).html).toContain("<h1>Night Shift</h1>");
    const failed = await env.deps.jobs.enqueue("draw-cards", { userId: owner.auth.user.id, only: "missing" }, { maxAttempts: 1 });
    await env.deps.database.db.update(jobs).set({ status: "failed", lastError: "disk full" }).where(eq(jobs.id, failed.job.id));
    const list = await b.get("/admin/jobs");
    expect(list.html).toContain("disk full");
    const retried = await b.post(`/admin/jobs/${failed.job.id}/retry`, { csrf: csrfOf(list) });
    expect(retried.html).toContain("Job queued again.");
    expect((await env.deps.jobs.get(failed.job.id))?.status).toBe("queued");
    const again = await b.post(`/admin/jobs/${failed.job.id}/retry`, { csrf: csrfOf(list) });
    expect(again.html).toContain("No failed job with that id");
  });
});

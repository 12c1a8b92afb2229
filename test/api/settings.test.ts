// The community's settings (README "Operating a community"): defaults from the environment, changed by an owner
// from the command line or the admin API (audited, checked, moderators refused), shown at once on the pages (the
// page cache follows), in GET /api/v1/instance and on the share card; closing sign-ups closes every door.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { auditLog } from "../../src/db/schema.ts";
import { json, registerUser } from "../support/auth.ts";
import { sidechain } from "../support/cli.ts";
import { Browser } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";

let env: TestEnv;
let owner: Awaited<ReturnType<typeof registerUser>>;
let mod: Awaited<ReturnType<typeof registerUser>>;

const cli = (...args: string[]) => sidechain({ DATA_DIR: env.deps.config.DATA_DIR, INSTANCE_NAME: "From Env" }, ...args);

beforeAll(async () => {
  env = await createTestEnv("sqlite", { INSTANCE_NAME: "From Env", INSTANCE_DESCRIPTION: "Set by the environment" });
  owner = await registerUser(env, { username: "boss" });
  mod = await registerUser(env, { username: "modder" });
  await env.request(`/api/v1/admin/users/${mod.auth.user.id}/role`, { method: "POST", token: owner.auth.token, json: { role: "moderator" } });
});
afterAll(() => env.close());

describe("settings", () => {
  test("until set, they come from the environment", async () => {
    expect(await json(await env.request("/api/v1/instance"))).toEqual({
      name: "From Env",
      description: "Set by the environment",
      rules: "",
      contact: "",
      registration: "open",
      members_invite: false,
      sign_in_to_view: false,
      upload_quota_per_day: 50,
      upload_quota_mb: 2048,
      approval_queue_limit: 100,
    });
    expect(await (await env.request("/")).text()).toContain("<h1>From Env</h1>");
  });

  test("the command line changes them (audited); pages, the API and the page cache follow at once", async () => {
    const set = await cli("settings", "set", "name=Night Shift", "rules=Post your own loops.\nBe kind.", "contact=staff@example.com");
    expect(set.code).toBe(0);
    expect(set.out).toContain("name                  Night Shift");
    const shown = await cli("settings", "show");
    expect(shown.out).toContain("contact               staff@example.com");
    expect((await json(await env.request("/api/v1/instance"))).rules).toBe("Post your own loops.\nBe kind.");
    const home = await (await env.request("/")).text();
    expect(home).toContain("<h1>Night Shift</h1>");
    expect(home).toContain("<title>Night Shift</title>");
    expect(await (await env.request("/signin")).text()).toContain("Night Shift");
    const [entry] = await env.deps.database.db.select().from(auditLog).where(eq(auditLog.action, "settings.update"));
    expect(entry).toMatchObject({ actor: "cli", details: { name: { from: "From Env", to: "Night Shift" }, contact: { from: "", to: "staff@example.com" } } });
  });

  test("switches and numbers: words and digits on the command line, exact JSON types in the API", async () => {
    const set = await cli("settings", "set", "members_invite=yes", "upload_quota_mb=500", "registration=approval", "approval_queue_limit=3");
    expect(set.code).toBe(0);
    expect(set.out).toContain("members_invite        true");
    expect(await json(await env.request("/api/v1/instance"))).toMatchObject({
      members_invite: true,
      upload_quota_mb: 500,
      registration: "approval",
      approval_queue_limit: 3,
    });
    const bad = await cli("settings", "set", "members_invite=maybe", "upload_quota_mb=-1", "approval_queue_limit=0");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("members_invite: Must be true or false");
    expect(bad.err).toContain("approval_queue_limit: A whole number from 1 to 10000");
    for (const wrong of [{ sign_in_to_view: "yes" }, { upload_quota_mb: 1.5 }, { upload_quota_per_day: 10_001 }]) {
      const r = await env.request("/api/v1/admin/settings", { method: "PUT", token: owner.auth.token, json: wrong });
      expect([r.status, (await json(r)).error]).toEqual([400, "validation_error"]);
    }
    const back = await cli("settings", "set", "members_invite=no", "upload_quota_mb=2048", "registration=open", "approval_queue_limit=100");
    expect(back.code).toBe(0);
    expect(await json(await env.request("/api/v1/instance"))).toMatchObject({ members_invite: false, upload_quota_mb: 2048, registration: "open" });
  });

  test("bad values are refused by field and change nothing; moderators cannot change settings", async () => {
    const bad = await env.request("/api/v1/admin/settings", {
      method: "PUT",
      token: owner.auth.token,
      json: { name: "", contact: "a\u202Eb", registration: "maybe" },
    });
    expect(bad.status).toBe(400);
    expect(Object.keys((await json(bad)).fields).sort()).toEqual(["registration"].sort());
    const fields = await env.request("/api/v1/admin/settings", { method: "PUT", token: owner.auth.token, json: { name: "", contact: "a\u202Eb" } });
    expect(Object.keys((await json(fields)).fields).sort()).toEqual(["contact", "name"]);
    expect((await cli("settings", "set", `name=${"x".repeat(61)}`)).code).toBe(1);
    expect((await cli("settings", "set", "colour=red")).code).toBe(1);
    expect((await cli("settings", "set", "name")).code).toBe(2);
    const byMod = await env.request("/api/v1/admin/settings", { method: "PUT", token: mod.auth.token, json: { name: "Mine now" } });
    expect([byMod.status, (await json(byMod)).error]).toEqual([403, "owner_only"]);
    expect((await json(await env.request("/api/v1/admin/settings", { token: mod.auth.token }))).name).toBe("Night Shift");
    expect((await env.request("/api/v1/admin/settings", { token: (await registerUser(env)).auth.token })).status).toBe(403);
  });

  test("closing sign-ups closes the API, the web form and its link; reopening opens them", async () => {
    const closed = await env.request("/api/v1/admin/settings", { method: "PUT", token: owner.auth.token, json: { registration: "closed" } });
    expect((await json(closed)).registration).toBe("closed");
    const api = await env.request("/api/v1/auth/register", {
      method: "POST",
      json: { email: "late@example.com", username: "late", password: "correct horse battery staple" },
    });
    expect([api.status, (await json(api)).error]).toEqual([403, "registration_closed"]);
    const b = new Browser(env);
    const page = await b.get("/register");
    expect(page.html).toContain("This server does not accept new accounts");
    expect((await b.get("/signin")).html).not.toContain("Create an account");
    await env.request("/api/v1/admin/settings", { method: "PUT", token: owner.auth.token, json: { registration: "open" } });
    expect((await b.get("/signin")).html).toContain("Create an account");
    expect((await registerUser(env, { username: "late_again" })).auth.user.role).toBe("member");
  });
});

// Roles and the owner's command line (docs/security.md "Roles and staff actions"; README "Operating a community"):
// the first account is the owner; `sidechain user ...` (in process against a running server's DATA_DIR, and as a
// real process) promotes, demotes, suspends, unsuspends, signs out and deletes accounts, refuses what it must, and
// writes each action to the audit log; a suspended account cannot sign in and its loops are withheld; a deleted
// account leaves every other counter exact and no media behind.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asc, eq } from "drizzle-orm";
import { auditLog, follows, plays, posts, reactions, sessions, users } from "../../src/db/schema.ts";
import { json, registerUser } from "../support/auth.ts";
import { sidechain, sidechainWithInput } from "../support/cli.ts";
import { Browser } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertFollow, insertReadyPost } from "../support/ready-posts.ts";

const ROOT = join(import.meta.dir, "../..");
let env: TestEnv;
let owner: Awaited<ReturnType<typeof registerUser>>;
let mira: Awaited<ReturnType<typeof registerUser>>;
let fan: Awaited<ReturnType<typeof registerUser>>;

const cli = (...args: string[]) => sidechain({ DATA_DIR: env.deps.config.DATA_DIR }, ...args);
const row = async (id: string) => (await env.deps.database.db.select().from(users).where(eq(users.id, id)))[0];
const login = (who: typeof fan) => env.request("/api/v1/auth/login", { method: "POST", json: { email: who.input.email, password: who.input.password } });

beforeAll(async () => {
  env = await createTestEnv("sqlite");
  owner = await registerUser(env, { username: "founder" });
  mira = await registerUser(env, { username: "mira" });
  fan = await registerUser(env, { username: "fan" });
});
afterAll(() => env.close());

describe("roles", () => {
  test("the first account of a server is its owner; the next ones are members; the API says which", async () => {
    expect(owner.auth.user.role).toBe("owner");
    expect(mira.auth.user.role).toBe("member");
    const me = await json(await env.request("/api/v1/users/me", { token: owner.auth.token }));
    expect(me.role).toBe("owner");
  });

  test("two first sign-ups at once on a fresh server: exactly one owner", async () => {
    const fresh = await createTestEnv("sqlite");
    try {
      const [a, b] = await Promise.all([registerUser(fresh, { username: "first_a" }), registerUser(fresh, { username: "first_b" })]);
      expect([a.auth.user.role, b.auth.user.role].sort()).toEqual(["member", "owner"]);
    } finally {
      await fresh.close();
    }
  });

  test("promote, promote to owner, demote; the last owner cannot be demoted; each change is audited", async () => {
    expect(await cli("user", "promote", "@mira", "--reason", "helps a lot")).toMatchObject({ code: 0, out: "@mira is now moderator." });
    expect((await row(mira.auth.user.id))!.role).toBe("moderator");
    const last = await cli("user", "demote", "founder");
    expect(last.code).toBe(1);
    expect(last.err).toContain("only owner");
    expect(await cli("user", "promote", mira.input.email, "--owner")).toMatchObject({ code: 0, out: "@mira is now owner." });
    expect(await cli("user", "demote", "founder")).toMatchObject({ code: 0, out: "@founder is now member." });
    expect(await cli("user", "promote", "founder", "--owner")).toMatchObject({ code: 0 });
    expect(await cli("user", "demote", mira.auth.user.id)).toMatchObject({ code: 0 });
    const entries = await env.deps.database.db.select().from(auditLog).orderBy(asc(auditLog.createdAt), asc(auditLog.id));
    expect(entries.map((e) => [e.actor, e.action, e.targetLabel, e.details])).toEqual([
      ["cli", "user.role", "mira", { from: "member", to: "moderator" }],
      ["cli", "user.role", "mira", { from: "moderator", to: "owner" }],
      ["cli", "user.role", "founder", { from: "owner", to: "member" }],
      ["cli", "user.role", "founder", { from: "member", to: "owner" }],
      ["cli", "user.role", "mira", { from: "owner", to: "member" }],
    ]);
    expect(entries[0]!.reason).toBe("helps a lot");
  });

  test("user list, filtered", async () => {
    const all = await cli("user", "list");
    expect(all.code).toBe(0);
    expect(all.out.split("\n").map((l) => l.split(" ")[0])).toEqual(["@founder", "@mira", "@fan"]);
    expect(all.out).toContain("owner");
    expect((await cli("user", "list", "--role", "owner")).out.split("\n")).toHaveLength(1);
    expect((await cli("user", "list", "--query", "FA")).out).toStartWith("@fan");
    expect((await cli("user", "list", "--suspended")).out).toBe("No accounts match.");
  });

  test("usage mistakes are refused with the flag named, and change nothing", async () => {
    const cases: [string[], string][] = [
      [["user", "suspend", "fan"], "--reason is required"],
      [["user", "delete", "fan"], "--yes"],
      [["user", "promote"], "name one account"],
      [["user", "list", "--limit", "0"], "--limit"],
      [["user", "list", "--role", "admin"], "--role"],
      [["user", "list", "--colour"], 'unknown option "--colour"'],
      [["user", "frobnicate"], "unknown subcommand"],
    ];
    for (const [args, says] of cases) {
      const r = await cli(...args);
      expect(r.code).toBe(2);
      expect(r.err).toContain(says);
    }
    const unknown = await cli("user", "suspend", "nobody_here", "--reason", "x");
    expect(unknown).toMatchObject({ code: 1 });
    expect(unknown.err).toContain('No account "nobody_here"');
    expect((await row(fan.auth.user.id))!.suspendedAt).toBeNull();
  });
});

describe("suspension", () => {
  let loop: string;
  test("sign-in refused with the reason, sessions ended, loops withheld from feeds and pages, the profile gone", async () => {
    loop = await insertReadyPost(env, fan.auth.user.id, "Fan loop");
    await env.deps.database.db.update(users).set({ postCount: 1 }).where(eq(users.id, fan.auth.user.id));
    expect((await env.request(`/api/v1/posts/${loop}`)).status).toBe(200);
    expect((await env.request("/api/v1/users/fan/profile")).status).toBe(200);
    expect((await env.request("/@fan")).status).toBe(200);
    expect(JSON.stringify(await json(await env.request("/api/v1/feed/global")))).toContain(loop);
    const r = await cli("user", "suspend", "fan", "--reason", "spam links in every bio");
    expect(r).toMatchObject({ code: 0 });
    expect((await env.request("/api/v1/users/me", { token: fan.auth.token })).status).toBe(401);
    const refused = await login(fan);
    expect(refused.status).toBe(403);
    expect(await json(refused)).toMatchObject({ error: "account_suspended", message: expect.stringContaining("spam links in every bio") });
    expect((await env.request(`/api/v1/posts/${loop}`)).status).toBe(404);
    expect((await env.request(`/l/${loop}`)).status).toBe(404);
    expect((await env.request("/@fan")).status).toBe(404);
    expect((await env.request("/api/v1/users/fan/profile")).status).toBe(404);
    const global = await json(await env.request("/api/v1/feed/global"));
    expect(JSON.stringify(global)).not.toContain(loop);
    const u = (await row(fan.auth.user.id))!;
    expect(u.postCount).toBe(0);
    const [p] = await env.deps.database.db.select().from(posts).where(eq(posts.id, loop));
    expect(p!.status).toBe("withheld");
    expect((await cli("user", "list", "--suspended")).out).toStartWith("@fan");
    // The browser's sign-in page says so too, and starts no session.
    const b = new Browser(env);
    const signin = await b.submit(await b.get("/signin"), { login: "fan", password: fan.input.password }, false);
    expect(signin.status).toBe(403);
    expect(signin.html).toContain("This account is suspended: spam links in every bio");
    expect(b.cookies.has("sc_session")).toBe(false);
  });

  test("staff rules: an owner cannot be suspended; unsuspending publishes the loops again and sign-in works", async () => {
    const r = await cli("user", "suspend", "founder", "--reason", "x");
    expect(r.code).toBe(1);
    expect(r.err).toContain("demote them first");
    expect(await cli("user", "unsuspend", "fan")).toMatchObject({ code: 0, out: "@fan may sign in again; 1 loops are published again." });
    expect((await login(fan)).status).toBe(200);
    expect((await env.request(`/api/v1/posts/${loop}`)).status).toBe(200);
    expect((await row(fan.auth.user.id))!.postCount).toBe(1);
    const actions = (await env.deps.database.db.select().from(auditLog)).map((e) => e.action);
    expect(actions).toContain("user.suspend");
    expect(actions).toContain("user.unsuspend");
  });

  test("revoke-sessions signs an account out everywhere", async () => {
    const fresh = await json(await login(fan));
    expect((await env.request("/api/v1/users/me", { token: fresh.auth.token })).status).toBe(200);
    expect(await cli("user", "revoke-sessions", "fan")).toMatchObject({ code: 0 });
    expect((await env.request("/api/v1/users/me", { token: fresh.auth.token })).status).toBe(401);
    expect((await login(fan)).status).toBe(200);
  });
});

describe("deleting an account", () => {
  test("everything of it goes (loops and media, follows, reactions, plays, sessions) and every other counter stays exact", async () => {
    const leaver = await registerUser(env, { username: "leaver" });
    const id = leaver.auth.user.id;
    const miraLoop = await insertReadyPost(env, mira.auth.user.id, "Mira loop");
    const ownLoop = await insertReadyPost(env, id, "Leaving loop");
    const [own] = await env.deps.database.db.select().from(posts).where(eq(posts.id, ownLoop));
    await env.deps.storage.put(own!.audioKey, new Uint8Array(100), { contentType: "audio/mpeg" });
    const exportKey = `exports/${id}/${"a".repeat(64)}.zip`;
    await env.deps.storage.put(exportKey, new Uint8Array(10), { contentType: "application/zip" });
    await insertFollow(env, id, mira.auth.user.id);
    await insertFollow(env, mira.auth.user.id, id);
    expect((await env.request(`/api/v1/posts/${miraLoop}/reaction`, { method: "POST", token: leaver.auth.token, json: { emoji: "🔥" } })).status).toBe(200);
    expect((await env.request(`/api/v1/posts/${miraLoop}/play`, { method: "POST", token: leaver.auth.token })).status).toBe(200);
    const before = (await row(mira.auth.user.id))!;
    const [postBefore] = await env.deps.database.db.select().from(posts).where(eq(posts.id, miraLoop));
    expect([postBefore!.likeCount, postBefore!.playCount]).toEqual([1, 1]);

    const r = await cli("user", "delete", "leaver", "--yes", "--reason", "asked by mail");
    expect(r).toMatchObject({ code: 0 });
    expect(r.out).toBe("@leaver is deleted: 1 loops, 2 follows, 1 reactions and 1 plays went with it.");
    expect(await row(id)).toBeUndefined();
    const after = (await row(mira.auth.user.id))!;
    expect([after.followerCount, after.followingCount]).toEqual([before.followerCount - 1, before.followingCount - 1]);
    const [postAfter] = await env.deps.database.db.select().from(posts).where(eq(posts.id, miraLoop));
    expect([postAfter!.likeCount, postAfter!.playCount]).toEqual([0, 0]);
    const db = env.deps.database.db;
    for (const t of [follows, reactions, plays] as const) {
      const left = await db.select().from(t);
      expect(JSON.stringify(left)).not.toContain(id);
    }
    expect(await db.select().from(sessions).where(eq(sessions.userId, id))).toEqual([]);
    expect(await db.select().from(posts).where(eq(posts.userId, id))).toEqual([]);
    expect(existsSync(join(env.deps.config.DATA_DIR, "media", own!.audioKey))).toBe(false);
    expect(await env.deps.storage.head(exportKey)).toBeNull(); // a data export waiting for download goes too
    expect((await login(leaver)).status).toBe(401);
    const [entry] = await db.select().from(auditLog).where(eq(auditLog.action, "user.delete"));
    expect(entry).toMatchObject({ actor: "cli", targetLabel: "leaver", reason: "asked by mail" });
  });

  test("the last owner cannot be deleted", async () => {
    const r = await cli("user", "delete", "founder", "--yes");
    expect(r.code).toBe(1);
    expect(r.err).toContain("demote them first");
  });
});

describe("the admin API (staff role)", () => {
  const as = (token: string, path: string, body?: unknown) =>
    env.request(`/api/v1/admin${path}`, body === undefined ? { token } : { method: "POST", token, json: body });
  let ownerToken: string;
  let modToken: string;

  test("members get 403 staff_only and change nothing; no token is 401", async () => {
    // The command line above wrote with the real clock; the server's test clock moves past it, so the audit log's
    // newest entries are the API's.
    env.clock.set(Date.now() + 60_000);
    ownerToken = (await json(await login(owner))).auth.token;
    const fanToken = (await json(await login(fan))).auth.token;
    expect((await env.request("/api/v1/admin/users")).status).toBe(401);
    const list = await as(fanToken, "/users");
    expect(list.status).toBe(403);
    expect((await json(list)).error).toBe("staff_only");
    const probe = await as(fanToken, "/users/nobody_at_all/suspend", { reason: "x" });
    expect([probe.status, (await json(probe)).error]).toEqual([403, "staff_only"]); // not 404: no probing for accounts
    expect((await as(fanToken, `/users/${mira.auth.user.id}/suspend`, { reason: "x" })).status).toBe(403);
    expect((await row(mira.auth.user.id))!.suspendedAt).toBeNull();
  });

  test("an owner lists accounts with their private fields, a page at a time", async () => {
    const first = await json(await as(ownerToken, "/users?limit=1"));
    expect(first.users).toHaveLength(1);
    expect(first.users[0]).toMatchObject({ username: "founder", role: "owner", suspended: false, email: owner.input.email });
    const second = await json(await as(ownerToken, `/users?limit=1&cursor=${first.next_cursor}`));
    expect(second.users[0].username).toBe("mira");
    const filtered = await json(await as(ownerToken, "/users?q=fa&role=member"));
    expect(filtered.users.map((u: { username: string }) => u.username)).toEqual(["fan"]);
    expect((await as(ownerToken, "/users?role=admin")).status).toBe(400);
  });

  test("a moderator suspends a member (with a reason), but not staff, and cannot change roles; all audited", async () => {
    expect((await as(ownerToken, `/users/${mira.auth.user.id}/role`, { role: "moderator", reason: "trusted" })).status).toBe(200);
    modToken = (await json(await login(mira))).auth.token;
    const noReason = await as(modToken, `/users/${fan.auth.user.id}/suspend`, { reason: "  " });
    expect([noReason.status, (await json(noReason)).error]).toEqual([400, "validation_error"]);
    const done = await as(modToken, `/users/${fan.auth.user.id}/suspend`, { reason: "harassment in comments" });
    expect(done.status).toBe(200);
    expect(await json(done)).toMatchObject({ username: "fan", suspended: true, suspension_reason: "harassment in comments" });
    expect((await as(modToken, `/users/${owner.auth.user.id}/suspend`, { reason: "coup" })).status).toBe(403);
    const roles = await as(modToken, `/users/${fan.auth.user.id}/role`, { role: "moderator" });
    expect([roles.status, (await json(roles)).error]).toEqual([403, "owner_only"]);
    const self = await as(modToken, `/users/${mira.auth.user.id}/revoke-sessions`, {});
    expect(self.status).toBe(200); // signing oneself out everywhere is allowed
    modToken = (await json(await login(mira))).auth.token;
    expect((await as(modToken, `/users/${fan.auth.user.id}/unsuspend`, { reason: "appeal accepted" })).status).toBe(200);

    const audit = await json(await as(ownerToken, "/audit?limit=3"));
    expect(audit.entries.map((e: { actor: string; action: string }) => `${e.actor} ${e.action}`)).toEqual([
      "@mira user.unsuspend",
      "@mira user.revoke_sessions",
      "@mira user.suspend",
    ]);
    const older = await json(await as(ownerToken, `/audit?limit=1&cursor=${audit.next_cursor}`));
    expect(older.entries[0]).toMatchObject({ actor: "@founder", action: "user.role", reason: "trusted", details: { from: "member", to: "moderator" } });
    expect((await as(ownerToken, "/audit?cursor=not-a-cursor")).status).toBe(400);
  });

  test("staff delete a member through the API; the answer says what went", async () => {
    const gone = await registerUser(env, { username: "spammer" });
    const res = await as(ownerToken, `/users/${gone.auth.user.id}/delete`, { reason: "spam account" });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ deleted: true, id: gone.auth.user.id, posts: 0, follows: 0, reactions: 0, plays: 0 });
    expect((await as(ownerToken, `/users/${gone.auth.user.id}`)).status).toBe(404);
  });
});

describe("deleting your own account", () => {
  test("confirmed by the password; a wrong one changes nothing; the last owner cannot", async () => {
    const me = await registerUser(env, { username: "quitter" });
    const del = (password?: string, token = me.auth.token) =>
      env.request("/api/v1/users/me/delete", { method: "POST", token, json: password === undefined ? {} : { password } });
    const wrong = await del("not my password");
    expect([wrong.status, (await json(wrong)).error]).toEqual([403, "wrong_password"]);
    expect((await del()).status).toBe(403);
    expect(await row(me.auth.user.id)).toBeDefined();
    const ok = await del(me.input.password);
    expect(ok.status).toBe(200);
    expect(await json(ok)).toEqual({ deleted: true, posts: 0, follows: 0, reactions: 0, plays: 0 });
    expect(await row(me.auth.user.id)).toBeUndefined();
    expect((await env.request("/api/v1/users/me", { token: me.auth.token })).status).toBe(401);
    // No staff action: nothing in the audit log names it.
    expect(JSON.stringify(await env.deps.database.db.select().from(auditLog))).not.toContain(me.auth.user.id);
    const ownerToken = (await json(await login(owner))).auth.token;
    const last = await del(owner.input.password, ownerToken);
    expect([last.status, (await json(last)).error]).toEqual([409, "last_owner"]);
  });
});

describe("sidechain admin create-owner, in process", () => {
  test("refuses bad input and a second owner; makes the owner on a server without one", async () => {
    const fresh = await createTestEnv("sqlite");
    try {
      const at = { DATA_DIR: fresh.deps.config.DATA_DIR };
      const make = (stdin: string | null, ...flags: string[]) => sidechainWithInput(at, stdin, "admin", "create-owner", ...flags);
      expect((await make("pw", "--email", "not-an-email", "--username", "ok_name")).err).toContain("--email");
      expect((await make("pw", "--email", "a@example.com", "--username", "x")).err).toContain("--username");
      expect((await make(null, "--email", "a@example.com", "--username", "first_owner")).err).toContain("standard input");
      expect((await make("short", "--email", "a@example.com", "--username", "first_owner")).code).toBe(2);
      const made = await make("a long enough passphrase 42\n", "--email", "a@example.com", "--username", "first_owner");
      expect(made).toMatchObject({ code: 0 });
      expect(made.out).toContain("@first_owner is the owner of this server");
      const second = await make("a long enough passphrase 42", "--email", "b@example.com", "--username", "second");
      expect([second.code, second.err]).toEqual([
        1,
        "sidechain admin create-owner: this server already has an owner (@first_owner); use `sidechain user promote USER --owner`",
      ]);
      // With the owner demoted (by hand), a taken email or username is named.
      await fresh.deps.database.db.update(users).set({ role: "member" });
      expect((await make("a long enough passphrase 42", "--email", "a@example.com", "--username", "other_name")).err).toContain("email exists");
      expect((await make("a long enough passphrase 42", "--email", "c@example.com", "--username", "first_owner")).err).toContain("username exists");
    } finally {
      await fresh.close();
    }
  });

  test("settings commands refuse what they cannot do", async () => {
    for (const args of [["settings"], ["settings", "show", "extra"], ["settings", "set"], ["settings", "set", "=x"]]) {
      expect((await cli(...args)).code).toBe(2);
    }
  });
});

describe("sidechain admin create-owner, as a real process", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sc-owner-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  async function run(args: string[], stdin = "") {
    const proc = Bun.spawn([process.execPath, "src/index.ts", ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir(), DATA_DIR: dataDir },
      stdin: new TextEncoder().encode(stdin),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    return { code, stdout, stderr };
  }

  test("creates the owner on a fresh server (password from standard input), then refuses a second; the owner signs in", async () => {
    const weak = await run(["admin", "create-owner", "--email", "boss@example.com", "--username", "boss"], "short\n");
    expect(weak.code).toBe(2);
    expect(weak.stderr).toContain("password");
    const made = await run(["admin", "create-owner", "--email", "boss@example.com", "--username", "boss"], "a long enough passphrase 42\n");
    expect(made.stderr).toBe("");
    expect(made.code).toBe(0);
    expect(made.stdout).toContain("@boss is the owner of this server");
    const again = await run(["admin", "create-owner", "--email", "other@example.com", "--username", "other"], "a long enough passphrase 42\n");
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already has an owner (@boss)");
    const list = await run(["user", "list"]);
    expect(list.code).toBe(0);
    expect(list.stdout.trim()).toMatch(/^@boss +boss@example\.com +owner +active +0 loops$/);
    const server = await createTestEnv("sqlite", { DATA_DIR: dataDir });
    try {
      const res = await server.request("/api/v1/auth/login", { method: "POST", json: { email: "boss", password: "a long enough passphrase 42" } });
      expect(res.status).toBe(200);
      expect((await json(res)).auth.user.role).toBe("owner");
    } finally {
      await server.close();
    }
  });
});

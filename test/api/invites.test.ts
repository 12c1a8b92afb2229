// Invites and approval over the API (README "Invites and approval"): each sign-up mode of POST /auth/register, every
// way an invite can be refused (and that a refusal creates nothing and spends nothing), the race for an invite's last
// use, members' invites and their caps, the approval queue (cap, staff mails with their throttle, approve and reject
// with the applicant's mails, sign-in refused while waiting, the waiting account invisible), all audited.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { CLI_ACTOR } from "../../src/admin/audit.ts";
import { updateSettings } from "../../src/admin/settings.ts";
import { auditLog, invites, users } from "../../src/db/schema.ts";
import { expectError, json, mailTo, newUserInput, registerUser } from "../support/auth.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { sidechain } from "../support/cli.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";

let env: TestEnv;
let owner: Awaited<ReturnType<typeof registerUser>>;
let mod: Awaited<ReturnType<typeof registerUser>>;
let member: Awaited<ReturnType<typeof registerUser>>;

const register = (body: Record<string, unknown>) => env.request("/api/v1/auth/register", { method: "POST", json: body });
const setSettings = async (patch: Record<string, unknown>) => {
  const r = await env.request("/api/v1/admin/settings", { method: "PUT", token: owner.auth.token, json: patch });
  expect(r.status).toBe(200);
};
const makeInvite = async (token: string, body: Record<string, unknown> = {}) => {
  const r = await env.request("/api/v1/invites", { method: "POST", token, json: body });
  const b = await json(r);
  expect({ status: r.status, error: b.error }).toEqual({ status: 201, error: undefined });
  return { ...b, code: (b.url as string).split("/invite/")[1]! } as { invite: Record<string, any>; url: string; code: string };
};
const countUsers = async () => (await env.deps.database.db.select({ id: users.id }).from(users)).length;
const userRow = async (username: string) => (await env.deps.database.db.select().from(users).where(eq(users.username, username)))[0];

beforeAll(async () => {
  env = await createTestEnv("sqlite", { RATE_LIMIT_AUTH_PER_MIN: "10000", RATE_LIMIT_MAIL_PER_HOUR: "1000" });
  owner = await registerUser(env, { username: "founder" });
  mod = await registerUser(env, { username: "moddy" });
  member = await registerUser(env, { username: "member" });
  await env.deps.database.db.update(users).set({ role: "moderator" }).where(eq(users.id, mod.auth.user.id));
  // Staff mails go to confirmed addresses only: the owner's and the moderator's are confirmed, a third staff's not.
  await env.deps.database.db.update(users).set({ emailVerified: true }).where(eq(users.role, "owner"));
  await env.deps.database.db.update(users).set({ emailVerified: true }).where(eq(users.id, mod.auth.user.id));
});
afterAll(() => env.close());

describe("invite mode", () => {
  test("without an invite: 403 invite_required and nothing created; the first account of a fresh server is never refused", async () => {
    await setSettings({ registration: "invite" });
    const before = await countUsers();
    await expectError(await register(newUserInput()), 403, "invite_required");
    expect(await countUsers()).toBe(before);

    const fresh = await createTestEnv("sqlite");
    try {
      await updateSettings(fresh.deps, CLI_ACTOR, { registration: "approval" });
      const first = await registerUser(fresh, { username: "first_one" });
      expect(first.auth.user.role).toBe("owner");
      await updateSettings(fresh.deps, CLI_ACTOR, { registration: "invite" });
      await expectError(await fresh.request("/api/v1/auth/register", { method: "POST", json: newUserInput() }), 403, "invite_required");
    } finally {
      await fresh.close();
    }
  });

  test("with a staff invite: the account is created, signed in, and records the invite; uses go up", async () => {
    const inv = await makeInvite(owner.auth.token, { max_uses: 2 });
    expect(inv.url).toBe(`${env.deps.config.PUBLIC_URL}/invite/${inv.code}`);
    expect(inv.code).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(inv.invite).toMatchObject({ max_uses: 2, uses: 0, state: "live", created_by: "founder" });
    // Only the hash is stored.
    const [stored] = await env.deps.database.db.select().from(invites).where(eq(invites.id, inv.invite.id));
    expect(stored!.codeHash).not.toContain(inv.code);
    expect(JSON.stringify(stored)).not.toContain(inv.code);

    const r = await register({ ...newUserInput({ username: "invited_one" }), invite: inv.code });
    expect(r.status).toBe(201);
    const body = await json(r);
    expect(typeof body.auth.token).toBe("string");
    expect((await userRow("invited_one"))!.inviteId).toBe(inv.invite.id);
    const [after] = await env.deps.database.db.select().from(invites).where(eq(invites.id, inv.invite.id));
    expect(after!.uses).toBe(1);
    // Staff see who joined through it.
    const all = await json(await env.request("/api/v1/admin/invites", { token: mod.auth.token }));
    expect(all.invites.find((i: any) => i.id === inv.invite.id)).toMatchObject({ uses: 1, joined: ["invited_one"] });
    // Making it was audited.
    const [entry] = await env.deps.database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, "invite.create"), eq(auditLog.targetId, inv.invite.id)));
    expect(entry!.actor).toBe("@founder");
  });

  test("every bad invite has its own code, and creates nothing and spends nothing", async () => {
    const before = await countUsers();
    await expectError(await register({ ...newUserInput(), invite: "nope" }), 400, "invite_invalid");
    await expectError(await register({ ...newUserInput(), invite: "A".repeat(22) }), 400, "invite_invalid");

    const one = await makeInvite(owner.auth.token, { max_uses: 1 });
    expect((await register({ ...newUserInput(), invite: one.code })).status).toBe(201);
    await expectError(await register({ ...newUserInput(), invite: one.code }), 410, "invite_used_up");

    const soon = await makeInvite(owner.auth.token, { expires_in_hours: 1 });
    env.clock.advance(3_600_001);
    await expectError(await register({ ...newUserInput(), invite: soon.code }), 410, "invite_expired");
    env.clock.advance(-3_600_001);

    const revoked = await makeInvite(owner.auth.token, { max_uses: 5 });
    const rv = await env.request(`/api/v1/invites/${revoked.invite.id}/revoke`, { method: "POST", token: owner.auth.token, json: {} });
    expect((await json(rv)).state).toBe("revoked");
    await expectError(await register({ ...newUserInput(), invite: revoked.code }), 410, "invite_revoked");
    expect(await countUsers()).toBe(before + 1);

    // A refused registration (a taken username) with a good invite spends nothing.
    const good = await makeInvite(owner.auth.token, { max_uses: 1 });
    await expectError(await register({ ...newUserInput({ username: "founder" }), invite: good.code }), 409, "username_taken");
    const [g] = await env.deps.database.db.select().from(invites).where(eq(invites.id, good.invite.id));
    expect(g!.uses).toBe(0);
  });

  test("two sign-ups racing for the last use: exactly one account", async () => {
    const inv = await makeInvite(owner.auth.token, { max_uses: 1 });
    const before = await countUsers();
    const answers = await Promise.all(Array.from({ length: 6 }, () => register({ ...newUserInput(), invite: inv.code })));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([201, 410, 410, 410, 410, 410]);
    expect(await countUsers()).toBe(before + 1);
    const [row] = await env.deps.database.db.select().from(invites).where(eq(invites.id, inv.invite.id));
    expect(row!.uses).toBe(1);
  });

  test("bad invite requests are refused with the field named", async () => {
    for (const body of [{ max_uses: 0 }, { max_uses: 1001 }, { expires_in_hours: 0 }, { expires_in_hours: 721 }]) {
      const r = await env.request("/api/v1/invites", { method: "POST", token: owner.auth.token, json: body });
      const b = await expectError(r, 400, "validation_error");
      expect(Object.keys(b.fields)).toEqual(Object.keys(body));
    }
    await expectError(await env.request("/api/v1/invites", { method: "POST", json: {} }), 401, "unauthorized");
  });
});

describe("members' invites", () => {
  test("refused while members_invite is off; capped in number, uses and days when on; revoke only their own", async () => {
    await setSettings({ members_invite: false });
    await expectError(await env.request("/api/v1/invites", { method: "POST", token: member.auth.token, json: {} }), 403, "invites_staff_only");
    await setSettings({ members_invite: true });
    await expectError(await env.request("/api/v1/invites", { method: "POST", token: member.auth.token, json: { max_uses: 11 } }), 400, "validation_error");
    await expectError(
      await env.request("/api/v1/invites", { method: "POST", token: member.auth.token, json: { expires_in_hours: 169 } }),
      400,
      "validation_error",
    );
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await makeInvite(member.auth.token, { max_uses: 10 }));
    await expectError(await env.request("/api/v1/invites", { method: "POST", token: member.auth.token, json: {} }), 409, "invite_limit");
    // Revoking one makes room.
    expect((await env.request(`/api/v1/invites/${made[0]!.invite.id}/revoke`, { method: "POST", token: member.auth.token, json: {} })).status).toBe(200);
    await makeInvite(member.auth.token);
    const mine = await json(await env.request("/api/v1/invites", { token: member.auth.token }));
    expect(mine.invites).toHaveLength(6);
    expect(mine.invites.every((i: any) => i.created_by === "member")).toBe(true);
    // Someone else's invite: 404 for a member; staff may revoke it (audited); members' own actions are not.
    const staffInvite = await makeInvite(owner.auth.token);
    await expectError(
      await env.request(`/api/v1/invites/${staffInvite.invite.id}/revoke`, { method: "POST", token: member.auth.token, json: {} }),
      404,
      "invite_not_found",
    );
    expect((await env.request(`/api/v1/invites/${made[1]!.invite.id}/revoke`, { method: "POST", token: mod.auth.token, json: {} })).status).toBe(200);
    const revokes = await env.deps.database.db.select().from(auditLog).where(eq(auditLog.action, "invite.revoke"));
    expect(revokes.map((e) => e.actor)).toEqual(["@founder", "@moddy"]);
    // Members cannot see everyone's invites.
    await expectError(await env.request("/api/v1/admin/invites", { token: member.auth.token }), 403, "staff_only");
    // A member's invite works like staff's.
    expect((await register({ ...newUserInput({ username: "friend_of_member" }), invite: made[2]!.code })).status).toBe(201);
    await setSettings({ members_invite: false });
  });
});

describe("open and closed modes", () => {
  test("open: an invite still records who invited; closed: refused even with an invite", async () => {
    await setSettings({ registration: "open" });
    const inv = await makeInvite(owner.auth.token);
    expect((await register({ ...newUserInput({ username: "open_invited" }), invite: inv.code })).status).toBe(201);
    expect((await userRow("open_invited"))!.inviteId).toBe(inv.invite.id);
    expect((await register(newUserInput())).status).toBe(201);
    await setSettings({ registration: "closed" });
    const again = await makeInvite(owner.auth.token);
    await expectError(await register({ ...newUserInput(), invite: again.code }), 403, "registration_closed");
  });
});

describe("approval mode", () => {
  test("a sign-up waits: 202 with no session, staff mailed (throttled), sign-in refused, invisible", async () => {
    await setSettings({ registration: "approval", approval_queue_limit: 3 });
    const input = newUserInput({ username: "applicant" });
    const r = await register({ ...input, note: "I make lo-fi loops." });
    expect(r.status).toBe(202);
    const body = await json(r);
    expect(body).toEqual({
      status: "pending_approval",
      message: expect.any(String),
      user: { id: expect.any(String), username: "applicant" },
    });
    expect("error" in body || "auth" in body).toBe(false);
    const row = await userRow("applicant");
    expect(row).toMatchObject({ approval: "pending", signupNote: "I make lo-fi loops." });

    // Sign-in refused with a clear code, after the password was checked; a wrong password stays 401.
    await expectError(
      await env.request("/api/v1/auth/login", { method: "POST", json: { email: input.email, password: input.password } }),
      403,
      "approval_pending",
    );
    await expectError(
      await env.request("/api/v1/auth/login", { method: "POST", json: { email: input.email, password: "wrong password here" } }),
      401,
      "invalid_credentials",
    );
    // Invisible: no profile; staff see the account as waiting.
    await expectError(await env.request("/api/v1/users/applicant", { token: member.auth.token }), 404, "user_not_found");
    expect(await json(await env.request("/api/v1/admin/users/applicant", { token: mod.auth.token }))).toMatchObject({ approval: "pending" });

    // Staff with confirmed addresses got one mail each; the member did not.
    const ownerMails = (await mailTo(env, owner.input.email)).filter((m) => m.subject.includes("waiting"));
    expect(ownerMails).toHaveLength(1);
    expect(ownerMails[0]!.subject).toBe("1 sign-up waiting on Sidechain");
    expect(ownerMails[0]!.text).toContain(`${env.deps.config.PUBLIC_URL}/admin/signups`);
    expect((await mailTo(env, mod.input.email)).filter((m) => m.subject.includes("waiting"))).toHaveLength(1);
    expect((await mailTo(env, member.input.email)).filter((m) => m.subject.includes("waiting"))).toHaveLength(0);

    // A second sign-up within the throttle window mails nobody again.
    expect((await register(newUserInput({ username: "applicant_two" }))).status).toBe(202);
    expect((await mailTo(env, owner.input.email)).filter((m) => m.subject.includes("waiting"))).toHaveLength(1);

    // Staff see the queue, oldest first, with the note.
    const list = await json(await env.request("/api/v1/admin/signups", { token: mod.auth.token }));
    expect(list.signups.map((s: any) => [s.username, s.note])).toEqual([
      ["applicant", "I make lo-fi loops."],
      ["applicant_two", ""],
    ]);
    await expectError(await env.request("/api/v1/admin/signups", { token: member.auth.token }), 403, "staff_only");
  });

  test("a note over 500 characters is refused; an invite skips the queue", async () => {
    const before = await countUsers();
    const long = await register({ ...newUserInput(), note: "x".repeat(501) });
    expect(long.status).toBe(400);
    expect(await countUsers()).toBe(before);
    const inv = await makeInvite(owner.auth.token);
    const r = await register({ ...newUserInput({ username: "skipper" }), invite: inv.code });
    expect(r.status).toBe(201);
    expect((await userRow("skipper"))!.approval).toBe("approved");
  });

  test("the queue is capped: when full, 403 approval_queue_full and nothing created", async () => {
    expect((await register(newUserInput({ username: "applicant_three" }))).status).toBe(202);
    const before = await countUsers();
    await expectError(await register(newUserInput()), 403, "approval_queue_full");
    expect(await countUsers()).toBe(before);
  });

  test("approve: the applicant is mailed and can sign in; reject: deleted, mailed with the reason, may apply again", async () => {
    const a = await userRow("applicant");
    const ok = await env.request(`/api/v1/admin/signups/${a!.id}/approve`, { method: "POST", token: mod.auth.token, json: {} });
    expect(ok.status).toBe(200);
    expect((await userRow("applicant"))!.approval).toBe("approved");
    const welcome = await mailTo(env, a!.email!);
    expect(welcome[0]!.subject).toBe("Welcome to Sidechain");
    expect(welcome[0]!.text).toContain(`${env.deps.config.PUBLIC_URL}/signin`);
    const input = { email: a!.email!, password: "correct horse battery staple" };
    expect((await env.request("/api/v1/auth/login", { method: "POST", json: input })).status).toBe(200);
    expect((await env.request("/api/v1/users/applicant", { token: member.auth.token })).status).toBe(200);
    // Approving twice: 409, nothing changes.
    await expectError(await env.request(`/api/v1/admin/signups/${a!.id}/approve`, { method: "POST", token: mod.auth.token, json: {} }), 409, "not_pending");
    // Members cannot decide.
    const two = await userRow("applicant_two");
    await expectError(await env.request(`/api/v1/admin/signups/${two!.id}/approve`, { method: "POST", token: member.auth.token, json: {} }), 403, "staff_only");

    const no = await env.request(`/api/v1/admin/signups/${two!.id}/reject`, {
      method: "POST",
      token: owner.auth.token,
      json: { reason: "Loops only, please." },
    });
    expect(no.status).toBe(200);
    expect(await userRow("applicant_two")).toBeUndefined();
    const told = await mailTo(env, two!.email!);
    expect(told[0]!.text).toContain("Loops only, please.");
    const entries = await env.deps.database.db.select().from(auditLog).where(eq(auditLog.targetType, "user"));
    expect(entries.filter((e) => e.action.startsWith("signup.")).map((e) => [e.actor, e.action, e.targetLabel])).toEqual([
      ["@moddy", "signup.approve", "applicant"],
      ["@founder", "signup.reject", "applicant_two"],
    ]);
    // The address may apply again.
    const again = await register({ email: two!.email!, username: "applicant_two", password: "correct horse battery staple" });
    expect(again.status).toBe(202);
  });
});

describe("the command line", () => {
  const cli = (...args: string[]) => sidechain({ DATA_DIR: env.deps.config.DATA_DIR, RATE_LIMIT_MAIL_PER_HOUR: "1000" }, ...args);

  test("invite create prints a working link; list shows it; revoke stops it; all audited as cli", async () => {
    await setSettings({ registration: "invite" });
    const made = await cli("invite", "create", "--uses", "3", "--expires", "2d");
    expect(made.code).toBe(0);
    const [url, info] = made.out.split("\n");
    expect(url).toMatch(new RegExp(`^${env.deps.config.PUBLIC_URL}/invite/[A-Za-z0-9_-]{22}$`));
    const id = /^id (\S+): 3 uses, expires /.exec(info!)![1]!;
    const code = url!.split("/invite/")[1]!;
    expect((await register({ ...newUserInput({ username: "cli_invited" }), invite: code })).status).toBe(201);
    const list = await cli("invite", "list");
    expect(list.out.split("\n").find((l) => l.startsWith(id))).toContain("1/3 uses");
    expect(await cli("invite", "revoke", id)).toMatchObject({ code: 0, out: `Invite ${id} is revoked: it no longer works.` });
    await expectError(await register({ ...newUserInput(), invite: code }), 410, "invite_revoked");
    const entries = await env.deps.database.db.select().from(auditLog).where(eq(auditLog.targetId, id));
    expect(entries.map((e) => [e.actor, e.action])).toEqual([
      ["cli", "invite.create"],
      ["cli", "invite.revoke"],
    ]);
  });

  test("usage mistakes exit 2 and name the flag; an unknown invite exits 1", async () => {
    expect((await cli("invite", "create", "--uses", "0")).err).toContain("--uses wants a whole number from 1 to 1000");
    expect((await cli("invite", "create", "--expires", "31d")).code).toBe(2);
    expect((await cli("invite", "create", "--expires", "soon")).err).toContain("--expires wants hours or days");
    expect((await cli("invite", "revoke")).code).toBe(2);
    expect((await cli("invite", "frobnicate")).code).toBe(2);
    expect(await cli("invite", "revoke", "no-such-id")).toMatchObject({ code: 1 });
  });

  test("user approve and user reject act on waiting sign-ups only, with mails and the audit log", async () => {
    await setSettings({ registration: "approval", approval_queue_limit: 100 });
    expect((await register(newUserInput({ username: "cli_waiting" }))).status).toBe(202);
    expect((await register(newUserInput({ username: "cli_rejected" }))).status).toBe(202);
    expect(await cli("user", "approve", "@cli_waiting")).toMatchObject({ code: 0, out: "@cli_waiting is approved and may sign in; they were mailed." });
    expect((await userRow("cli_waiting"))!.approval).toBe("approved");
    expect(await cli("user", "approve", "cli_waiting")).toMatchObject({ code: 1, err: expect.stringContaining("not waiting for approval") });
    const rejected = (await userRow("cli_rejected"))!;
    expect(await cli("user", "reject", "cli_rejected", "--reason", "Not now")).toMatchObject({ code: 0 });
    expect(await userRow("cli_rejected")).toBeUndefined();
    expect((await mailTo(env, rejected.email!))[0]!.text).toContain("Their reason: Not now");
    const entries = await env.deps.database.db.select().from(auditLog).where(eq(auditLog.actor, "cli"));
    expect(entries.filter((e) => e.action.startsWith("signup.")).map((e) => [e.action, e.targetLabel, e.reason])).toEqual([
      ["signup.approve", "cli_waiting", ""],
      ["signup.reject", "cli_rejected", "Not now"],
    ]);
  });
});

describe("limits on invite codes and invite making", () => {
  test("looking codes up on /invite/CODE is rate limited per IP; making invites is limited per user (30 an hour)", async () => {
    const small = await createTestEnv("sqlite", { RATE_LIMIT_AUTH_PER_MIN: "3" });
    try {
      const first = await registerUser(small, { username: "small_owner" });
      const codes = ["A".repeat(22), "B".repeat(22), "C".repeat(22)];
      for (const c of codes) {
        const page = await small.request(`/invite/${c}`);
        expect(page.status).toBe(400);
        expect(await page.text()).toContain("This invite link is not valid");
      }
      const limited = await small.request(`/invite/${"D".repeat(22)}`);
      expect(limited.status).toBe(429);
      const made = [];
      for (let i = 0; i < 31; i++) made.push((await small.request("/api/v1/invites", { method: "POST", token: first.auth.token, json: {} })).status);
      expect(made.filter((s) => s === 201)).toHaveLength(30);
      expect(made.at(-1)).toBe(429);
    } finally {
      await small.close();
    }
  });
});

describe("the pages", () => {
  test("an invite page names the inviter and carries the code; a used-up one says so; /register without one is invitation only", async () => {
    await setSettings({ registration: "invite", members_invite: false });
    const inv = await makeInvite(owner.auth.token, { max_uses: 1 });
    const page = await env.request(`/invite/${inv.code}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("@founder invited you.");
    expect(html).toContain(`name="invite" value="${inv.code}"`);
    expect((await register({ ...newUserInput(), invite: inv.code })).status).toBe(201);
    const spent = await env.request(`/invite/${inv.code}`);
    expect(spent.status).toBe(410);
    expect(await spent.text()).toContain("used as many times as it allows");
    const closedMode = await env.request("/register");
    expect(closedMode.status).toBe(403);
    expect(await closedMode.text()).toContain("By invitation only");
  });
});

describe("Invite friends on /settings/invites", () => {
  test("a member sees the part only while members may invite; makes a link (shown once), is refused past the caps, revokes one", async () => {
    const b = new Browser(env);
    await b.submit(await b.get("/signin"), { login: member.input.email, password: member.input.password });
    await setSettings({ members_invite: false });
    expect((await b.get("/settings")).html).not.toContain("Invite friends");
    const off = await b.get("/settings/invites");
    expect(off.html).toContain("only the staff may make invite links");
    const refused = await b.post("/settings/invites", { csrf: csrfOf(off), max_uses: "1", expires_days: "7" });
    expect(refused.url).toStartWith("/settings/invites?error=");
    expect(refused.html).toContain("only the staff may make invite links");

    await setSettings({ members_invite: true });
    expect((await b.get("/settings")).html).toContain("Invite friends");
    const page = await b.get("/settings/invites");
    // Revoke the live ones left by the tests above, so the cap counts from here.
    for (const m of page.html.matchAll(/action="(\/settings\/invites\/[^"]+\/revoke)"/g)) await b.post(m[1]!, { csrf: csrfOf(page) });
    const made = await b.post("/settings/invites", { csrf: csrfOf(page), max_uses: "10", expires_days: "7" }, false);
    expect(made.status).toBe(200);
    const url = /id="invite-url" readonly value="([^"]+)"/.exec(made.html)![1]!;
    expect(url).toStartWith(`${env.deps.config.PUBLIC_URL}/invite/`);
    expect((await b.get("/settings/invites")).html).not.toContain(url);
    const tooMany = await b.post("/settings/invites", { csrf: csrfOf(page), max_uses: "11", expires_days: "7" });
    expect(tooMany.html).toContain("A whole number from 1 to 10");
    const tooLong = await b.post("/settings/invites", { csrf: csrfOf(page), max_uses: "1", expires_days: "8" });
    expect(tooLong.html).toContain("from 1 to 168");
    const forged = await b.post("/settings/invites", { csrf: "nope", max_uses: "1", expires_days: "7" });
    expect(forged.html).toContain("did not come from this site");
    const list = await b.get("/settings/invites");
    const revoke = /action="(\/settings\/invites\/[^"]+\/revoke)"/.exec(list.html)![1]!;
    const after = await b.post(revoke, { csrf: csrfOf(list) });
    expect(after.html).toContain("Invite revoked.");
    expect(after.html).toContain("revoked");
    // A member cannot make links on the staff's page.
    const staffPage = await b.post("/admin/invites", { csrf: csrfOf(list), max_uses: "1", expires_days: "7" });
    expect(staffPage.status).toBe(403);
    // Signed out: the sign-in page.
    const nobody = new Browser(env);
    expect((await nobody.get("/settings/invites")).url).toStartWith("/signin");
    await setSettings({ members_invite: false });
  });
});

describe("on a real libSQL server (sqld)", () => {
  test("an invite's last uses and the queue's last places go to exactly as many of the racing sign-ups, no more", async () => {
    const remote = await createTestEnv("libsql", { RATE_LIMIT_AUTH_PER_MIN: "10000" });
    try {
      const boss = await registerUser(remote, { username: "remote_owner" });
      const put = (patch: Record<string, unknown>) => remote.request("/api/v1/admin/settings", { method: "PUT", token: boss.auth.token, json: patch });
      expect((await put({ registration: "invite" })).status).toBe(200);
      const made = await json(await remote.request("/api/v1/invites", { method: "POST", token: boss.auth.token, json: { max_uses: 2 } }));
      const code = (made.url as string).split("/invite/")[1]!;
      const reg = (body: Record<string, unknown>) => remote.request("/api/v1/auth/register", { method: "POST", json: body });
      const invited = await Promise.all(Array.from({ length: 6 }, () => reg({ ...newUserInput(), invite: code })));
      expect(invited.map((r) => r.status).sort()).toEqual([201, 201, 410, 410, 410, 410]);
      const [row] = await remote.deps.database.db.select().from(invites).where(eq(invites.id, made.invite.id));
      expect(row!.uses).toBe(2);

      expect((await put({ registration: "approval", approval_queue_limit: 2 })).status).toBe(200);
      const queued = await Promise.all(Array.from({ length: 5 }, () => reg(newUserInput())));
      expect(queued.map((r) => r.status).sort()).toEqual([202, 202, 403, 403, 403]);
      const waiting = await remote.deps.database.db.select().from(users).where(eq(users.approval, "pending"));
      expect(waiting).toHaveLength(2);
    } finally {
      await remote.close();
    }
  }, 60_000);
});

// Upload quotas (README "Upload quotas"): the community's loops a day and storage per member, a member's own values
// set by staff (admin API, command line, /admin page), staff without quota, the operator's limits from the
// environment over all of it. Real uploads of real audio through the API; a refused upload writes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq, sql } from "drizzle-orm";
import { registerProcessLoop } from "../../src/audio/process-loop.ts";
import { auditLog } from "../../src/db/schema.ts";
import { json, registerUser } from "../support/auth.ts";
import { lavfi, signals } from "../support/audio.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { sidechain } from "../support/cli.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";

const work = mkdtempSync(join(tmpdir(), "sc-quota-"));
let wav: Blob;
let env: TestEnv;
let owner: Awaited<ReturnType<typeof registerUser>>;
let member: Awaited<ReturnType<typeof registerUser>>;
const DAY = 86_400_000;

beforeAll(async () => {
  // 4 s of 16-bit stereo: about 0.7 MB.
  wav = Bun.file(await lavfi(join(work, "drums.wav"), signals.drums(4), ["-c:a", "pcm_s16le", "-f", "wav"]));
  env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost" });
  registerProcessLoop(env.deps);
  await env.deps.jobs.start();
  // Midday, so "today" is not about to end while the test runs.
  env.clock.set(Date.UTC(2026, 11, 6, 12));
  owner = await registerUser(env, { username: "boss" });
  member = await registerUser(env, { username: "maya" });
}, 60_000);
afterAll(() => env.close());

const upload = (token: string) => {
  const f = new FormData();
  f.set("audio_file", wav, "loop.wav");
  return env.request("/api/v1/audio/upload", { method: "POST", body: f, token });
};
const quota = async (token: string) => json(await env.request("/api/v1/audio/quota", { token }));
const setSettings = (values: Record<string, unknown>) => env.request("/api/v1/admin/settings", { method: "PUT", token: owner.auth.token, json: values });
const setQuota = (id: string, body: Record<string, unknown>, token = owner.auth.token) =>
  env.request(`/api/v1/admin/users/${id}/quota`, { method: "POST", token, json: body });
const cli = (...args: string[]) => sidechain({ DATA_DIR: env.deps.config.DATA_DIR }, ...args);

async function signedIn(who: typeof member) {
  const b = new Browser(env);
  await b.submit(await b.get("/signin"), { login: who.input.username, password: who.input.password });
  return b;
}

async function written() {
  const [p] = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM posts`);
  const dir = join(env.deps.config.DATA_DIR, "media");
  const files = existsSync(dir) ? readdirSync(dir, { recursive: true }).filter((f) => String(f).includes(".") && !String(f).startsWith(".tmp")) : [];
  return { posts: Number(p!.n), files: files.length };
}

describe("upload quotas", () => {
  test("loops a day: the next one is refused with when it opens again, writes nothing, and the next UTC day allows it", async () => {
    expect((await setSettings({ upload_quota_per_day: 2, upload_quota_mb: 0 })).status).toBe(200);
    expect(await quota(member.auth.token)).toMatchObject({ loops_today: 0, loops_per_day: 2, bytes_quota: 0, resets_at: Date.UTC(2026, 11, 7) });
    for (let i = 0; i < 2; i++) expect((await upload(member.auth.token)).status).toBe(201);
    const before = await written();
    const refused = await upload(member.auth.token);
    expect(refused.status).toBe(403);
    expect(await json(refused)).toEqual({ error: "quota_exceeded", message: "You can upload 2 loops a day on this server; try again after 00:00 UTC" });
    expect(await written()).toEqual(before);
    // Staff have no quota.
    for (let i = 0; i < 3; i++) expect((await upload(owner.auth.token)).status).toBe(201);
    expect(await quota(owner.auth.token)).toMatchObject({ loops_per_day: 0, bytes_quota: 0, loops_today: 3 });
    env.clock.advance(DAY);
    expect((await quota(member.auth.token)).loops_today).toBe(0);
    expect((await upload(member.auth.token)).status).toBe(201);
    env.clock.advance(-DAY);
  }, 60_000);

  test("two uploads at once for the last place of the day: exactly one is taken", async () => {
    const other = await registerUser(env, { username: "racer" });
    expect((await setSettings({ upload_quota_per_day: 1 })).status).toBe(200);
    const both = await Promise.all([upload(other.auth.token), upload(other.auth.token)]);
    expect(both.map((r) => r.status).sort()).toEqual([201, 403]);
    expect((await quota(other.auth.token)).loops_today).toBe(1);
  }, 60_000);

  test("storage: a member's own quota from the admin API, refused over it; null takes the community's again", async () => {
    expect((await setSettings({ upload_quota_per_day: 0, upload_quota_mb: 2048 })).status).toBe(200);
    const maker = await registerUser(env, { username: "tiny" });
    const set = await setQuota(maker.auth.user.id, { upload_quota_mb: 1, reason: "testing the waters" });
    expect(set.status).toBe(200);
    expect(await json(set)).toMatchObject({ upload_quota_mb: 1, upload_quota_per_day: null });
    expect((await upload(maker.auth.token)).status).toBe(201);
    const q = await quota(maker.auth.token);
    expect(q.bytes_quota).toBe(1024 * 1024);
    expect(q.bytes_used).toBeGreaterThan(600_000);
    const before = await written();
    const refused = await upload(maker.auth.token);
    expect((await json(refused)).error).toBe("quota_exceeded");
    expect((await json(await upload(maker.auth.token))).message).toMatch(/^Your loops use [\d.]+ [KM]B of your 1 MB on this server; delete some/);
    expect(await written()).toEqual(before);
    const [entry] = await env.deps.database.db.select().from(auditLog).where(eq(auditLog.action, "user.quota"));
    expect(entry).toMatchObject({ reason: "testing the waters", details: { from: { upload_quota_mb: null }, to: { upload_quota_mb: 1 } } });
    expect((await setQuota(maker.auth.user.id, { upload_quota_mb: null })).status).toBe(200);
    expect((await quota(maker.auth.token)).bytes_quota).toBe(2048 * 1024 * 1024);
    expect((await upload(maker.auth.token)).status).toBe(201);
  }, 60_000);

  test("who may set one: staff on members only; bad values refused; members cannot", async () => {
    const target = await registerUser(env, { username: "someone" });
    expect((await setQuota(target.auth.user.id, { upload_quota_mb: 5 }, member.auth.token)).status).toBe(403);
    const onStaff = await setQuota(owner.auth.user.id, { upload_quota_mb: 5 });
    expect([onStaff.status, (await json(onStaff)).error]).toEqual([409, "staff_unlimited"]);
    for (const bad of [{ upload_quota_mb: -1 }, { upload_quota_per_day: 1.5 }, { upload_quota_mb: 10_000_001 }]) {
      expect((await setQuota(target.auth.user.id, bad)).status).toBe(400);
    }
    expect((await json(await setQuota(target.auth.user.id, {}))).upload_quota_mb).toBeNull();
  });

  test("the command line sets and clears a member's quota; usage mistakes change nothing", async () => {
    const set = await cli("user", "quota", "maya", "--per-day", "0", "--mb", "300");
    expect([set.code, set.out]).toEqual([0, "@maya: no limit, 300 MB."]);
    expect(await quota(member.auth.token)).toMatchObject({ loops_per_day: 0, bytes_quota: 300 * 1024 * 1024 });
    expect((await cli("user", "quota", "maya")).code).toBe(2);
    expect((await cli("user", "quota", "maya", "--mb", "lots")).code).toBe(2);
    const staff = await cli("user", "quota", "boss", "--mb", "1");
    expect([staff.code, staff.err]).toEqual([1, "sidechain user quota: Staff have no upload quota"]);
    const back = await cli("user", "quota", "maya", "--per-day", "default", "--mb", "default");
    expect([back.code, back.out]).toEqual([0, "@maya: the community's, the community's."]);
  });

  test("the operator's USER_MAX_BYTES holds over the community's quota, for staff too", async () => {
    const small = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost", USER_MAX_BYTES: String(1024 * 1024) });
    try {
      registerProcessLoop(small.deps);
      await small.deps.jobs.start();
      const boss = await registerUser(small, { username: "boss" });
      const send = () => {
        const f = new FormData();
        f.set("audio_file", wav, "loop.wav");
        return small.request("/api/v1/audio/upload", { method: "POST", body: f, token: boss.auth.token });
      };
      expect((await send()).status).toBe(201);
      expect((await json(await send())).error).toBe("quota_exceeded");
    } finally {
      await small.close();
    }
  }, 60_000);

  test("the upload page shows what is left; staff set a member's quota on /admin/users", async () => {
    expect((await setSettings({ upload_quota_per_day: 20, upload_quota_mb: 2048 })).status).toBe(200);
    const b = await signedIn(member);
    expect((await b.get("/upload")).html).toMatch(/Your quota: \d+ of 20 loops today · [\d.]+ [KM]B of 2 GB used/);
    const admin = await signedIn(owner);
    const page = await admin.get("/admin/users?q=maya");
    expect(page.html).toContain(`aria-label="Set quota of @maya"`);
    const saved = await admin.post(`/admin/users/${member.auth.user.id}/quota`, { csrf: csrfOf(page), per_day: "3", mb: "" });
    expect(saved.html).toContain("Quota saved.");
    expect(await quota(member.auth.token)).toMatchObject({ loops_per_day: 3, bytes_quota: 2048 * 1024 * 1024 });
    const bad = await admin.post(`/admin/users/${member.auth.user.id}/quota`, { csrf: csrfOf(page), per_day: "many", mb: "" });
    expect(bad.html).toContain("A whole number, or empty for the community");
  });
});

// /settings in process (docs/architecture.md "Web app"): each form calls the service the API calls, refuses a
// missing CSRF token without changing anything, and shows its outcome after the redirect.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodePng } from "../../src/audio/png.ts";
import { getUserById } from "../../src/users/service.ts";
import { registerUser } from "../support/auth.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";

let env: TestEnv;
let mira: Awaited<ReturnType<typeof registerUser>>;
let browser: Browser;

async function signIn(password = mira.input.password) {
  const b = new Browser(env, { "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36" });
  await b.submit(await b.get("/signin"), { login: "mira", password });
  return b;
}

beforeAll(async () => {
  env = await createTestEnv();
  mira = await registerUser(env, { username: "mira" });
  browser = await signIn();
});
afterAll(() => env.close());

const post = async (b: Browser, path: string, fields: Record<string, string>) => {
  const page = await b.get("/settings");
  return b.post(path, { csrf: csrfOf(page), ...fields }, false);
};

describe("settings", () => {
  test("signed out, the page sends you to sign in and back", async () => {
    const res = await env.request("/settings");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/signin?next=%2Fsettings");
  });

  test("the page: your profile in its form, this browser among your sessions, never cached", async () => {
    const page = await browser.get("/settings");
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.html).toContain('name="display_name"');
    expect(page.html).toContain("This browser");
    expect(page.html).toContain("Chrome on Linux");
    expect(page.html).toContain('action="/settings/password"');
    // No provider is configured on this server: nothing to link.
    expect(page.html).not.toContain("Linked accounts");
  });

  test("profile: saved through the profile service, shown after the redirect; a hostile bio is escaped", async () => {
    const res = await post(browser, "/settings/profile", {
      display_name: "Mira O",
      bio: "</textarea><script>x</script>",
      daw: "Bitwig Studio",
      show_activity_status: "1",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/settings?saved=profile");
    const u = (await getUserById(env.deps, mira.auth.user.id))!;
    expect(u).toMatchObject({ displayName: "Mira O", daw: "Bitwig Studio", showActivityStatus: true });
    const page = await browser.get("/settings?saved=profile");
    expect(page.html).toContain("Profile saved.");
    expect(page.html).toContain("&lt;/textarea&gt;&lt;script&gt;x&lt;/script&gt;");
    // The checkbox unticked hides the activity status.
    await post(browser, "/settings/profile", { display_name: "Mira O" });
    expect((await getUserById(env.deps, mira.auth.user.id))!.showActivityStatus).toBe(false);
  });

  test("a form without the CSRF token changes nothing", async () => {
    const res = await browser.post("/settings/profile", { display_name: "Hijacked" }, false);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toStartWith("/settings?error=");
    expect((await getUserById(env.deps, mira.auth.user.id))!.displayName).toBe("Mira O");
    const json = await browser.fetch("/settings/profile", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: "display_name=Hijacked",
    });
    expect(json.status).toBe(403);
    expect(JSON.parse(json.html)).toMatchObject({ error: "csrf_failed" });
  });

  test("a refused profile shows the service's message", async () => {
    const res = await post(browser, "/settings/profile", { display_name: "x".repeat(61) });
    const page = await browser.get(res.headers.get("location")!);
    expect(page.html).toContain('role="alert"');
    expect((await getUserById(env.deps, mira.auth.user.id))!.displayName).toBe("Mira O");
  });

  test("sessions: another device is listed and can be signed out; so can every other one at once", async () => {
    const other = await signIn();
    const third = await signIn();
    let page = await browser.get("/settings");
    const ids = [...page.html.matchAll(/action="\/settings\/sessions\/([^/"]+)\/revoke"/g)].map((m) => m[1]!);
    expect(ids.length).toBeGreaterThanOrEqual(2);
    const res = await post(browser, `/settings/sessions/${ids[0]}/revoke`, {});
    expect(res.headers.get("location")).toBe("/settings?saved=revoked");
    page = await browser.get("/settings");
    expect(page.html).not.toContain(`/settings/sessions/${ids[0]}/revoke`);
    // Someone else's or an unknown session id: refused, nothing else happens.
    const bad = await post(browser, "/settings/sessions/not-a-session/revoke", {});
    expect(bad.headers.get("location")).toStartWith("/settings?error=");
    await post(browser, "/settings/sessions/revoke-others", {});
    expect((await other.get("/settings", false)).status).toBe(303);
    expect((await third.get("/settings", false)).status).toBe(303);
    expect((await browser.get("/settings", false)).status).toBe(200);
  });

  test("password: the wrong current password is refused; the right one changes it and this browser stays signed in", async () => {
    const wrong = await post(browser, "/settings/password", { current_password: "nope nope nope", new_password: "a brand new passphrase 42" });
    expect(decodeURIComponent(wrong.headers.get("location")!)).toContain("The current password is wrong");
    const ok = await post(browser, "/settings/password", { current_password: mira.input.password, new_password: "a brand new passphrase 42" });
    expect(ok.headers.get("location")).toBe("/settings?saved=password");
    expect((await browser.get("/settings", false)).status).toBe(200);
    const again = await signIn("a brand new passphrase 42");
    expect((await again.get("/settings", false)).status).toBe(200);
    mira.input.password = "a brand new passphrase 42";
  });

  test("picture: a PNG becomes the avatar; a text file is refused with the server's message", async () => {
    const csrf = csrfOf(await browser.get("/settings"));
    const upload = (bytes: Uint8Array, name: string, type: string) => {
      const form = new FormData();
      form.set("csrf", csrf);
      form.set("file", new File([bytes as Uint8Array<ArrayBuffer>], name, { type }));
      return browser.fetch("/settings/avatar", { method: "POST", body: form }, false);
    };
    const png = encodePng(64, 64, new Uint8Array(64 * 64 * 4).fill(200));
    const res = await upload(png, "me.png", "image/png");
    expect(res.headers.get("location")).toBe("/settings?saved=avatar");
    expect((await getUserById(env.deps, mira.auth.user.id))!.avatarKey).toBeTruthy();
    const refused = await upload(new TextEncoder().encode("just some notes\n"), "me.png", "image/png");
    expect(refused.headers.get("location")).toStartWith("/settings?error=");
  });

  test("unlinking a provider that is not linked is refused with its message", async () => {
    const res = await post(browser, "/settings/unlink/google", {});
    expect(res.headers.get("location")).toStartWith("/settings?error=");
    const link = await post(browser, "/settings/link/discord", {});
    expect(decodeURIComponent(link.headers.get("location")!)).toContain("not configured");
  });
});

describe("deleting your account from /settings", () => {
  test("the password and the box are required; then the account is gone and the browser is signed out", async () => {
    const leaver = await registerUser(env, { username: "leaving_soon" });
    const b = new Browser(env);
    await b.submit(await b.get("/signin"), { login: leaver.input.username, password: leaver.input.password });
    const page = await b.get("/settings");
    expect(page.html).toContain("Delete my account");
    const token = csrfOf(page);
    const unticked = await b.post("/settings/delete", { csrf: token, password: leaver.input.password });
    expect(unticked.html).toContain("Some fields are invalid");
    const wrong = await b.post("/settings/delete", { csrf: token, password: "not it", confirm: "1" });
    expect(wrong.html).toContain("That is not this account&#x27;s password");
    expect(await getUserById(env.deps, leaver.auth.user.id)).toBeDefined();
    const gone = await b.post("/settings/delete", { csrf: token, password: leaver.input.password, confirm: "1" }, false);
    expect(gone.status).toBe(303);
    expect(gone.headers.get("location")).toBe("/");
    expect(await getUserById(env.deps, leaver.auth.user.id)).toBeUndefined();
    expect((await b.get("/settings", false)).status).toBe(303);
  });
});

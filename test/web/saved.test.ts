// Saved loops in the web app (README "Saved loops"), in process: the loop page's 🔖 button as a plain form (303 back,
// the page then says Saved and is aria-pressed) and as the script's JSON, /saved listing them newest first, and the
// refusals: no or a wrong CSRF token and signed-out visitors change nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { registerUser } from "../support/auth.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertReadyPost } from "../support/ready-posts.ts";

let env: TestEnv;
let mira: Awaited<ReturnType<typeof registerUser>>;
let fan: Awaited<ReturnType<typeof registerUser>>;
let first: string;
let second: string;

async function signedIn(who: typeof fan) {
  const b = new Browser(env);
  await b.submit(await b.get("/signin"), { login: who.input.username, password: who.input.password });
  return b;
}
const saves = async () => Number((await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM saves`))[0]!.n);

beforeAll(async () => {
  env = await createTestEnv("sqlite");
  mira = await registerUser(env, { username: "mira" });
  fan = await registerUser(env, { username: "fan" });
  first = await insertReadyPost(env, mira.auth.user.id, "First light");
  env.clock.advance(1000);
  second = await insertReadyPost(env, mira.auth.user.id, "Second wind");
});
afterAll(() => env.close());

describe("saving from the web app", () => {
  test("the loop page's button saves and unsaves; /saved lists the loops, newest saved first", async () => {
    const b = await signedIn(fan);
    const page = await b.get(`/l/${first}`);
    expect(page.html).toContain('<button type="submit" class="secondary" aria-pressed="false">🔖 Save</button>');
    const after = await b.post(`/l/${first}/save`, { csrf: csrfOf(page), save: "1" });
    expect(after.url).toBe(`/l/${first}`);
    expect(after.html).toContain('aria-pressed="true">🔖 Saved</button>');
    env.clock.advance(1000);
    // The client script's way: JSON back, and no value means toggle.
    const json = await b.fetch(
      `/l/${second}/save`,
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json", "x-csrf-token": csrfOf(page) },
        body: "",
      },
      false,
    );
    expect(JSON.parse(json.html)).toEqual({ is_saved: true, save_count: 1 });
    const list = await b.get("/saved");
    expect(list.html).toContain("<h1>Saved loops</h1>");
    expect(list.html.indexOf("Second wind")).toBeLessThan(list.html.indexOf("First light"));
    expect(list.html.indexOf("First light")).toBeGreaterThan(0);
    await b.post(`/l/${second}/save`, { csrf: csrfOf(page), save: "0" });
    const fewer = await b.get("/saved");
    expect(fewer.html).not.toContain("Second wind");
    expect((await b.get("/settings")).html).toContain('<a href="/saved">saved loops</a>');
  });

  test("refused without a valid CSRF token or signed out; the signed-out page offers sign-in instead", async () => {
    const before = await saves();
    const b = await signedIn(fan);
    expect((await b.post(`/l/${second}/save`, { csrf: "forged", save: "1" }, false)).status).toBe(303);
    const anon = new Browser(env);
    const page = await anon.get(`/l/${second}`);
    expect(page.html).toContain(`href="/signin?next=%2Fl%2F${second}">🔖 Sign in to save</a>`);
    const refused = await anon.post(`/l/${second}/save`, { csrf: "x", save: "1" }, false);
    expect(refused.status).toBe(303);
    expect(await saves()).toBe(before);
    const saved = await anon.get("/saved", false);
    expect([saved.status, saved.headers.get("location")]).toEqual([303, "/signin?next=%2Fsaved"]);
  });
});

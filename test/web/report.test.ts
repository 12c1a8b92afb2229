// The web app's Report button (README "Reports"), in process: a member reports a loop from its page and a producer
// from their profile with the plain form (no script), the report is the API's (in the staff's queue), a second one
// answers as the API does (409 already_reported), and the refusals: no CSRF token, no reason, a note over the API's
// limit, signed out (to the sign-in page, back to the page), your own loop and profile (no button), the script's JSON.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { reports } from "../../src/db/schema.ts";
import { registerUser } from "../support/auth.ts";
import { Browser, csrfOf, type Page } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertReadyPost } from "../support/ready-posts.ts";

let env: TestEnv;
let mira: Awaited<ReturnType<typeof registerUser>>;
let fan: Awaited<ReturnType<typeof registerUser>>;
let owner: Awaited<ReturnType<typeof registerUser>>;
let loopId: string;

async function signedIn(who: typeof fan) {
  const b = new Browser(env);
  await b.submit(await b.get("/signin"), { login: who.input.username, password: who.input.password });
  return b;
}

/** The report form's fields as the page has them, plus the reason and note a person picks. */
function reportForm(page: Page, fields: Record<string, string>) {
  const form = /<form method="post" action="\/report"[^>]*>([\s\S]*?)<\/form>/.exec(page.html);
  if (!form) throw new Error("no report form on the page");
  const hidden: Record<string, string> = {};
  for (const m of form[1]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g))
    hidden[m[1]!] = m[2]!.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)));
  return { ...hidden, ...fields };
}
const openReports = () => env.deps.database.db.select().from(reports).where(eq(reports.status, "open"));

beforeAll(async () => {
  env = await createTestEnv("sqlite");
  owner = await registerUser(env, { username: "boss" }); // the first account: the owner
  mira = await registerUser(env, { username: "mira" });
  fan = await registerUser(env, { username: "fan" });
  loopId = await insertReadyPost(env, mira.auth.user.id, "Night drive");
});
afterAll(() => env.close());

describe("the Report button", () => {
  test("a member reports a loop from its page without a script; it is in the staff's queue; twice answers 409", async () => {
    const b = await signedIn(fan);
    const page = await b.get(`/l/${loopId}`);
    expect(page.html).toContain('<summary class="report-link">Report this loop</summary>');
    for (const r of ["spam", "harassment", "copyright", "inappropriate", "other"]) expect(page.html).toContain(`value="${r}"`);
    const sent = await b.post("/report", reportForm(page, { reason: "copyright", note: "This is my sample pack, <b>unchanged</b>." }));
    expect(sent.status).toBe(200);
    expect(sent.html).toContain("Report sent");
    expect(sent.html).toContain(`href="/l/${loopId}"`);
    const [row] = await openReports();
    expect(row).toMatchObject({
      reporterId: fan.auth.user.id,
      targetType: "post",
      targetId: loopId,
      reason: "copyright",
      note: "This is my sample pack, <b>unchanged</b>.",
    });
    const queue = (await (await env.request("/api/v1/admin/reports", { token: owner.auth.token })).json()) as { reports: { id: string }[] };
    expect(queue.reports.map((r) => r.id)).toEqual([row!.id]);
    const again = await b.post("/report", reportForm(page, { reason: "spam" }));
    expect(again.status).toBe(409);
    expect(again.html).toContain("You reported this already");
    expect(await openReports()).toHaveLength(1);
  });

  test("a producer from their profile; the script gets the API's JSON", async () => {
    const b = await signedIn(fan);
    const page = await b.get("/@mira");
    expect(page.html).toContain("Report @mira");
    const res = await b.fetch(
      "/report",
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json", "x-csrf-token": csrfOf(page) },
        body: new URLSearchParams(reportForm(page, { reason: "harassment" })).toString(),
      },
      false,
    );
    expect(res.status).toBe(200);
    expect(JSON.parse(res.html)).toMatchObject({ status: "open" });
    const rows = await openReports();
    expect(rows.find((r) => r.targetType === "user")).toMatchObject({ targetId: mira.auth.user.id, reason: "harassment", note: "" });
  });

  test("refused, changing nothing: no CSRF token, no or an unknown reason, a note over 1,000 characters, an unknown loop", async () => {
    const b = await signedIn(fan);
    const other = await insertReadyPost(env, mira.auth.user.id, "Second take");
    const page = await b.get(`/l/${other}`);
    const before = (await openReports()).length;
    expect((await b.post("/report", { ...reportForm(page, { reason: "spam" }), csrf: "forged" })).status).toBe(403);
    const none = await b.post("/report", reportForm(page, {}));
    expect(none.status).toBe(400);
    expect(none.html).toContain("Choose a reason");
    expect((await b.post("/report", reportForm(page, { reason: "boring" }))).status).toBe(400);
    const long = await b.post("/report", reportForm(page, { reason: "other", note: "x".repeat(1001) }));
    expect(long.status).toBe(400);
    expect(long.html).toContain("At most 1000 characters");
    expect((await b.post("/report", reportForm(page, { reason: "spam", target_id: "no-such-loop" }))).status).toBe(404);
    expect((await b.post("/report", reportForm(page, { reason: "spam", target_type: "comment" }))).status).toBe(400);
    expect(await openReports()).toHaveLength(before);
    // A page from elsewhere cannot send the browser on: `next` is a path on this server.
    const away = await b.post("/report", reportForm(page, { reason: "spam", next: "https://evil.example/" }));
    expect(away.html).not.toContain("evil.example");
  });

  test("signed out: the link goes to the sign-in page, which comes back; a post is sent there too", async () => {
    const anon = new Browser(env);
    const page = await anon.get(`/l/${loopId}`);
    expect(page.html).toContain(`href="/signin?next=${encodeURIComponent(`/l/${loopId}`)}"`);
    expect(page.html).not.toContain('action="/report"');
    const token = csrfOf(await anon.get("/signin"));
    const res = await anon.post("/report", { csrf: token, target_type: "post", target_id: loopId, reason: "spam", next: `/l/${loopId}` }, false);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/signin?next=${encodeURIComponent(`/l/${loopId}`)}`);
  });

  test("no Report on your own loop or profile", async () => {
    const b = await signedIn(mira);
    expect((await b.get(`/l/${loopId}`)).html).not.toContain("Report this loop");
    expect((await b.get("/@mira")).html).not.toContain("Report @mira");
    expect((await b.get("/@fan")).html).toContain("Report @fan");
  });
});

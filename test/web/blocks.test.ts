// Blocking and muting from the browser (README "Blocking and muting"), in process: the profile page's Mute and Block…
// forms (plain posts with the CSRF token, 303 back), what each side then sees at the other's address and loop (the
// blocker a "You blocked" page with Unblock, the blocked one the 404 page), the home feed filtered, the /settings
// "Blocked and muted" card with Unblock and Unmute, and the refusals: no or a wrong token, signed out, bad fields.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { registerUser } from "../support/auth.ts";
import { Browser, csrfOf } from "../support/browser.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { insertReadyPost } from "../support/ready-posts.ts";

let env: TestEnv;
let mira: Awaited<ReturnType<typeof registerUser>>;
let fan: Awaited<ReturnType<typeof registerUser>>;
let loopId: string;

async function signedIn(who: typeof fan) {
  const b = new Browser(env);
  const page = await b.get("/signin");
  await b.submit(page, { login: who.input.username, password: who.input.password });
  return b;
}

const count = async (table: string) => Number((await env.deps.database.db.all<{ n: number }>(`SELECT count(*) AS n FROM ${table}` as never))[0]!.n);

beforeAll(async () => {
  env = await createTestEnv("sqlite");
  mira = await registerUser(env, { username: "mira" });
  fan = await registerUser(env, { username: "fan" });
  loopId = await insertReadyPost(env, mira.auth.user.id, "Night drive");
});
afterAll(() => env.close());

describe("the profile page's Mute and Block", () => {
  test("a signed-in visitor gets Mute and a Block… disclosure; the owner and anonymous visitors get neither", async () => {
    const b = await signedIn(fan);
    const page = await b.get("/@mira");
    expect(page.status).toBe(200);
    const csrf = csrfOf(page);
    expect(page.html).toContain(
      `<form method="post" action="/@mira/mute"><input type="hidden" name="csrf" value="${csrf}"/><input type="hidden" name="mute" value="1"/>`,
    );
    expect(page.html).toContain(">Mute @mira</button>");
    // Block asks first: a summary that opens the panel holding the real button.
    expect(page.html).toMatch(/<details class="confirm"><summary class="button secondary">Block @mira…<\/summary>[\s\S]*name="block" value="1"\/>/);
    expect(page.html).toContain(">Block @mira</button>");
    expect((await (await signedIn(mira)).get("/@mira")).html).not.toContain("/@mira/block");
    expect((await new Browser(env).get("/@mira")).html).not.toContain("/@mira/block");
  });

  test("mute then unmute with plain forms: 303 back to the page, the button flips, the home feed leaves the loops out", async () => {
    const b = await signedIn(fan);
    const csrf = csrfOf(await b.get("/@mira"));
    const res = await b.post("/@mira/mute", { csrf, mute: "1" }, false);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/@mira");
    const page = await b.get("/@mira");
    expect(page.html).toContain(">Unmute @mira</button>");
    expect(page.html).toContain("Night drive"); // the profile and its loops stay visible
    expect((await b.get("/?tab=global")).html).not.toContain(loopId);
    expect(await count("mutes")).toBe(1);
    await b.post("/@mira/mute", { csrf, mute: "0" }, false);
    expect((await b.get("/@mira")).html).toContain(">Mute @mira</button>");
    expect((await b.get("/?tab=global")).html).toContain(loopId);
  });

  test("block: the blocker sees who it is and Unblock, the blocked one the 404 page, at the profile and the loop", async () => {
    const b = await signedIn(fan);
    const m = await signedIn(mira);
    const csrf = csrfOf(await b.get("/@mira"));
    const res = await b.post("/@mira/block", { csrf, block: "1" }, false);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/@mira");

    const mine = await b.get("/@mira");
    expect(mine.status).toBe(200);
    expect(mine.html).toContain("You blocked @mira.");
    expect(mine.html).toContain(">Unblock @mira</button>");
    expect(mine.html).not.toContain("Night drive");
    expect((await b.get(`/l/${loopId}`)).status).toBe(404);
    expect((await b.get("/?tab=global")).html).not.toContain(loopId);
    // The blocked producer: the unknown producer's page, nothing that tells of a block.
    const theirs = await m.get("/@fan");
    expect(theirs.status).toBe(404);
    expect(theirs.html).not.toContain("block");
    // Others and anonymous visitors see Mira as before.
    expect((await new Browser(env).get("/@mira")).status).toBe(200);
    expect((await new Browser(env).get(`/l/${loopId}`)).status).toBe(200);

    // Unblock from the notice.
    const again = await b.post("/@mira/block", { csrf: csrfOf(mine), block: "0" }, false);
    expect(again.status).toBe(303);
    const back = await b.get("/@mira");
    expect(back.html).toContain("Night drive");
    expect((await m.get("/@fan")).status).toBe(200);
  });

  test("refusals change nothing: no or a wrong CSRF token, signed out, bad fields, unknown producers, yourself", async () => {
    const b = await signedIn(fan);
    const csrf = csrfOf(await b.get("/@mira"));
    expect((await b.post("/@mira/block", { block: "1" }, false)).status).toBe(303); // a plain form without a token
    expect(
      (
        await b.fetch(
          "/@mira/block",
          { method: "POST", headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" }, body: "block=1" },
          false,
        )
      ).status,
    ).toBe(403);
    const json = (path: string, form: Record<string, string>, who = b) =>
      who.fetch(
        path,
        {
          method: "POST",
          headers: { accept: "application/json", "x-csrf-token": csrf, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(form).toString(),
        },
        false,
      );
    expect(JSON.parse((await json("/@mira/block", { block: "yes" })).html).error).toBe("validation_error");
    expect(JSON.parse((await json("/@mira/mute", {})).html).error).toBe("validation_error");
    expect(JSON.parse((await json("/@nobody_here/block", { block: "1" })).html).error).toBe("user_not_found");
    expect(JSON.parse((await json("/@fan/block", { block: "1" })).html).error).toBe("cannot_block_self");
    expect(JSON.parse((await json("/@fan/mute", { mute: "1" })).html).error).toBe("cannot_mute_self");
    const anon = new Browser(env);
    const anonCsrf = csrfOf(await anon.get("/signin"));
    expect(
      (
        await anon.fetch(
          "/@mira/block",
          {
            method: "POST",
            headers: { accept: "application/json", "x-csrf-token": anonCsrf, "content-type": "application/x-www-form-urlencoded" },
            body: "block=1",
          },
          false,
        )
      ).status,
    ).toBe(401);
    expect(await count("blocks")).toBe(0);
    expect(await count("mutes")).toBe(0);
    // The script's JSON, for a client that asks for it.
    expect(JSON.parse((await json("/@mira/mute", { mute: "1" })).html)).toEqual({ is_muting: true });
    expect(JSON.parse((await json("/@mira/mute", { mute: "0" })).html)).toEqual({ is_muting: false });
  });
});

describe("/settings: Blocked and muted", () => {
  test("lists whom you block and mute, each with Unblock or Unmute that come back to the card", async () => {
    const lee = await registerUser(env, { username: "lee" });
    const b = await signedIn(lee);
    let page = await b.get("/settings");
    expect(page.html).toContain('<h2 id="s-hidden">Blocked and muted</h2>');
    expect(page.html).toContain("You block nobody.");
    expect(page.html).toContain("You mute nobody.");

    const kai = await registerUser(env, { username: "kai" });
    const csrf = csrfOf(page);
    await b.post("/@mira/mute", { csrf, mute: "1" }, false);
    await b.post("/@kai/block", { csrf, block: "1" }, false);
    page = await b.get("/settings");
    expect(page.html).toContain(">Unblock @kai</button>");
    expect(page.html).toContain(">Unmute @mira</button>");
    expect(page.html).not.toContain("You block nobody.");

    const res = await b.post("/@kai/block", { csrf, block: "0", next: "/settings?saved=unblocked#s-hidden" }, false);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/settings?saved=unblocked#s-hidden");
    page = await b.get("/settings?saved=unblocked");
    expect(page.html).toContain("Unblocked.");
    expect(page.html).toContain("You block nobody.");
    // A `next` off this server is ignored: back to the producer's page.
    const off = await b.post("/@mira/mute", { csrf, mute: "0", next: "//evil.example/" }, false);
    expect(off.headers.get("location")).toBe("/@mira");
    expect((await b.get("/settings")).html).toContain("You mute nobody.");
    expect(kai.auth.user.username).toBe("kai");
  });
});

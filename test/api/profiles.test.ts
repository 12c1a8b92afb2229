// Profiles through HTTP as the plugin and REST clients use them, on bun:sqlite and on a real sqld: public users by
// id or username with exact types and nothing private, profile and username edits (PUT and the plugin's POST) with
// field errors, and the profile picture: typed by content, bounded while it streams, every frame's size checked,
// re-encoded (no EXIF), applied at once, served with its own type, the previous object deleted.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { lavfi } from "../support/audio.ts";
import { apng, contains, GPS_LATITUDE, gifBomb, pngBomb, withExif } from "../support/images.ts";
import { imageHeader } from "../../src/users/image.ts";
import { posts, users } from "../../src/db/schema.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { expectError, json, type Producer, registerProducer } from "../support/auth.ts";
import { expectPublicUser, expectSelfUser } from "../support/user-shape.ts";

const work = mkdtempSync(join(tmpdir(), "sc-profiles-"));
const images: Record<"jpg" | "png" | "gif" | "webp", Uint8Array<ArrayBuffer>> = {} as never;
beforeAll(async () => {
  for (const ext of ["jpg", "png", "gif", "webp"] as const) {
    // The PNG is half transparent (it stays a PNG when re-encoded); the others are opaque (they become JPEGs).
    const source = ext === "png" ? "color=c=orange@0.5:s=96x96,format=rgba" : "color=c=orange:s=96x96";
    images[ext] = new Uint8Array(await Bun.file(await lavfi(join(work, `avatar.${ext}`), source, ["-frames:v", "1"])).arrayBuffer());
  }
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

let env: TestEnv;
// Scenarios get a fresh environment each; the last suite shares one (see its beforeAll).
let freshPerTest = true;
afterEach(() => (freshPerTest ? env?.close() : undefined));

const producer = (overrides: Parameters<typeof registerProducer>[1] = {}) => registerProducer(env, overrides);

// The plugin sends Content-Type: application/json on every request, GETs included.
const get = (path: string, token?: string) => env.request(path, { token, headers: { "content-type": "application/json" } });
const send = (method: "PUT" | "POST", path: string, body: unknown, token?: string) => env.request(path, { method, json: body, token });

function avatarForm(bytes: Uint8Array | null, filename = "avatar.png", field = "file", type = "application/octet-stream") {
  const f = new FormData();
  if (bytes) f.set(field, new Blob([bytes as Uint8Array<ArrayBuffer>], { type }), filename);
  return f;
}
const uploadAvatar = (who: Producer, body: FormData | ReadableStream, headers: Record<string, string> = {}) =>
  env.request("/api/v1/users/upload-profile-picture", { method: "POST", body: body as BodyInit, token: who.token, headers });

/** Stored avatar objects of a user, as files of the local storage driver. */
function avatarFiles(userId: string): string[] {
  const dir = join(env.deps.config.DATA_DIR, "media", "avatars", userId);
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => !f.startsWith("."))
        .sort()
    : [];
}

async function insertProcessingPost(userId: string): Promise<string> {
  const id = Bun.randomUUIDv7();
  const now = env.clock.now();
  const key = (ext: string) => `loops/${id}/${"0".repeat(32)}.${ext}`;
  await env.deps.database.db.insert(posts).values({
    id,
    userId,
    status: "processing",
    originalKey: key("wav"),
    originalFormat: "wav",
    originalBytes: 1,
    audioKey: key("mp3"),
    peaksKey: key("json"),
    waveformKey: key("svg"),
    createdAt: now,
    updatedAt: now,
  });
  return id;
}

for (const driver of DRIVERS) {
  describe(`profiles on ${driver}`, () => {
    test("a profile by id or by username (any case) is a public user with exact types and no email; GET /users/{id} agrees", async () => {
      env = await createTestEnv(driver, { PUBLIC_URL: "http://localhost" });
      const a = await producer();
      const viewer = await producer();

      const byId = await json(await get(`/api/v1/users/${a.id}/profile`));
      expectPublicUser(byId);
      expect(byId).toMatchObject({
        id: a.id,
        username: a.username,
        display_name: a.username,
        avatar_url: "",
        genre: "",
        social_links: {},
        follower_count: 0,
        following_count: 0,
        post_count: 0,
        is_following: false,
        follows_you: false,
        is_online: false,
        is_in_studio: false,
        last_active: null,
      });
      expect(JSON.stringify(byId)).not.toContain(a.email);
      expect(await json(await get(`/api/v1/users/${a.username.toUpperCase()}/profile`))).toEqual(byId);
      expect(await json(await get(`/api/v1/users/${a.id}`))).toEqual(byId);
      expect(await json(await get(`/api/v1/users/${a.username}`))).toEqual(byId);
      // a signed-in viewer sees the same public user (viewer fields filled, still nothing private)
      const seen = await json(await get(`/api/v1/users/${a.id}/profile`, viewer.token));
      expect(seen).toEqual(byId);
      // "me" names the signed-in user, in the public shape
      const me = await json(await get("/api/v1/users/me/profile", a.token));
      expect(me).toEqual(byId);
      // the own record is the self shape
      expectSelfUser(await json(await get("/api/v1/users/me", a.token)));

      for (const missing of ["01900000-0000-7000-8000-000000000000", "nobody_here", "me"]) {
        const res = await get(`/api/v1/users/${missing}/profile`);
        expect(res.status).toBe(404);
        expect(await json(res)).toMatchObject({ error: "user_not_found", message: expect.any(String) });
      }
      expect((await get("/api/v1/users/01900000-0000-7000-8000-000000000000")).status).toBe(404);
      // a bad token on a public route is an error, not an anonymous read
      expect((await get(`/api/v1/users/${a.id}/profile`, "not-a-token")).status).toBe(401);
    });

    test("the plugin's POST /users/me and PUT /users/me edit the profile: absent fields stay, the answer is the own user", async () => {
      env = await createTestEnv(driver);
      const a = await producer();
      const edit = {
        display_name: "  Night Beats ",
        bio: "Lo-fi loops at 2 am\nBerlin nights",
        location: "Berlin",
        genre: "Lo-fi",
        daw: "Ableton Live",
        website: "https://nightbeats.example/loops",
        social_links: { instagram: "@nightbeats", soundcloud: "https://soundcloud.com/nightbeats" },
      };
      const res = await send("POST", "/api/v1/users/me", edit, a.token);
      expect(res.status).toBe(200);
      const own = await json(res);
      expectSelfUser(own);
      expect(own).toMatchObject({ ...edit, display_name: "Night Beats", id: a.id, email: a.email });

      // PUT with one field changes that field only; social_links replaces the whole set, an empty value drops a link
      const put = await json(
        await send("PUT", "/api/v1/users/me", { genre: "Techno", social_links: { instagram: "", bandcamp: "https://nb.bandcamp.com" } }, a.token),
      );
      expect(put).toMatchObject({ genre: "Techno", bio: edit.bio, website: edit.website, social_links: { bandcamp: "https://nb.bandcamp.com" } });
      // clearing: empty strings, and an empty display name falls back to the username
      const cleared = await json(await send("PUT", "/api/v1/users/me", { website: "", bio: "", display_name: "" }, a.token));
      expect(cleared).toMatchObject({ website: "", bio: "", display_name: a.username });
      // an empty body changes nothing
      const same = await json(await send("POST", "/api/v1/users/me", {}, a.token));
      expect(same).toEqual(cleared);

      const pub = await json(await get(`/api/v1/users/${a.id}/profile`));
      expectPublicUser(pub);
      expect(pub).toMatchObject({ genre: "Techno", location: "Berlin", daw: "Ableton Live", social_links: { bandcamp: "https://nb.bandcamp.com" } });
      // GET /auth/me and GET /users/me show the same record
      expect(await json(await get("/api/v1/auth/me", a.token))).toEqual(await json(await get("/api/v1/users/me", a.token)));
    });

    test("show_activity_status false hides last_active (and presence) from everyone", async () => {
      env = await createTestEnv(driver);
      const a = await producer();
      const at = Date.UTC(2026, 10, 25, 12, 0, 0);
      await env.deps.database.db.update(users).set({ lastActiveAt: at }).where(eq(users.id, a.id));
      expect((await json(await get("/api/v1/users/me", a.token))).last_active).toBe(new Date(at).toISOString());
      const hidden = await json(await send("POST", "/api/v1/users/me", { show_activity_status: false }, a.token));
      expect(hidden.last_active).toBeNull();
      const pub = await json(await get(`/api/v1/users/${a.id}/profile`));
      expectPublicUser(pub);
      expect(pub).toMatchObject({ last_active: null, is_online: false, is_in_studio: false });
    });

    test("a profile's presence and last_active show to the user and their followers only (as over the WebSocket)", async () => {
      env = await createTestEnv(driver);
      const [a, fan, stranger] = [await producer(), await producer(), await producer()];
      const at = Date.UTC(2026, 10, 25, 12, 0, 0);
      await env.deps.database.db.update(users).set({ lastActiveAt: at }).where(eq(users.id, a.id));
      await env.deps.presence.store.update(a.id, { n: 1, status: "in_studio", daw: "Bitwig", at: env.clock.now() });
      expect((await send("POST", "/api/v1/social/follow", { target_user_id: a.id }, fan.token)).status).toBeLessThan(300);
      const live = { is_online: true, is_in_studio: true, last_active: new Date(at).toISOString() };
      const hidden = { is_online: false, is_in_studio: false, last_active: null };
      expect(await json(await get(`/api/v1/users/${a.id}/profile`, fan.token))).toMatchObject(live);
      expect(await json(await get("/api/v1/users/me", a.token))).toMatchObject({ last_active: live.last_active });
      for (const token of [stranger.token, undefined]) {
        const pub = await json(await get(`/api/v1/users/${a.id}/profile`, token));
        expectPublicUser(pub);
        expect(pub).toMatchObject(hidden);
      }
      await env.deps.presence.store.update(a.id, null);
    });

    test("bad profile edits answer 400 naming every bad field, and change nothing", async () => {
      env = await createTestEnv(driver);
      const a = await producer();
      await send("PUT", "/api/v1/users/me", { bio: "before", website: "https://ok.example" }, a.token);
      const before = await json(await get("/api/v1/users/me", a.token));

      const cases: [unknown, string[]][] = [
        [
          {
            display_name: "x".repeat(61),
            bio: "b".repeat(501),
            location: "Berlin\nMitte",
            website: "javascript:alert(1)",
            social_links: { instagram: "javascript:alert(1)", "bad name!": "x", long: "y".repeat(201) },
          },
          ["bio", "display_name", "location", "social_links.bad name!", "social_links.instagram", "social_links.long", "website"],
        ],
        [{ website: "ftp://files.example" }, ["website"]],
        [{ website: "/relative/path" }, ["website"]],
        [{ bio: "nul\u0000byte" }, ["bio"]],
        [{ social_links: Object.fromEntries([...Array(11)].map((_, i) => [`site${i}`, `@me${i}`])) }, ["social_links"]],
        // wrong JSON types: genre is one string (never an array), flags are booleans, links are strings
        [{ genre: ["lofi", "house"] }, ["genre"]],
        [{ show_activity_status: "yes" }, ["show_activity_status"]],
        [{ social_links: { instagram: 42 } }, ["social_links.instagram"]],
        [{ social_links: ["@a"] }, ["social_links"]],
      ];
      for (const [body, fields] of cases) {
        for (const method of ["PUT", "POST"] as const) {
          const res = await send(method, "/api/v1/users/me", body, a.token);
          const answer = await json(res);
          expect({ method, body, status: res.status, error: answer.error }).toEqual({ method, body, status: 400, error: "validation_error" });
          expect({ body, fields: Object.keys(answer.fields ?? {}).sort() }).toEqual({ body, fields });
          expect(typeof answer.message).toBe("string");
        }
      }
      expect(await json(await get("/api/v1/users/me", a.token))).toEqual(before);
      // not signed in
      expect((await send("PUT", "/api/v1/users/me", { bio: "x" })).status).toBe(401);
    });

    test("username change (PUT and the plugin's POST): lower-cased, validated, unique whatever the case (409)", async () => {
      env = await createTestEnv(driver);
      const a = await producer();
      const b = await producer();

      const renamed = await send("POST", "/api/v1/users/username", { username: "  Night.Beats_1 " }, a.token);
      expect(renamed.status).toBe(200);
      const own = await json(renamed);
      expectSelfUser(own);
      expect(own.username).toBe("night.beats_1");
      expect((await json(await get("/api/v1/users/NIGHT.BEATS_1/profile"))).id).toBe(a.id);
      expect((await get(`/api/v1/users/${a.username}/profile`)).status).toBe(404);
      // the same name again is fine
      expect((await send("PUT", "/api/v1/users/username", { username: "night.beats_1" }, a.token)).status).toBe(200);

      for (const method of ["PUT", "POST"] as const) {
        const taken = await send(method, "/api/v1/users/username", { username: "Night.Beats_1" }, b.token);
        expect(taken.status).toBe(409);
        expect((await json(taken)).error).toBe("username_taken");
        for (const bad of ["ab", "x".repeat(31), "no spaces", "ünïcode", "semi;colon"]) {
          const res = await send(method, "/api/v1/users/username", { username: bad }, b.token);
          expect({ bad, status: res.status }).toEqual({ bad, status: 400 });
          expect(Object.keys((await json(res)).fields)).toEqual(["username"]);
        }
        expect((await send(method, "/api/v1/users/username", {}, b.token)).status).toBe(400);
      }
      expect((await json(await get("/api/v1/users/me", b.token))).username).toBe(b.username);
      // the new name signs in
      const login = await env.request("/api/v1/auth/login", { method: "POST", json: { email: "night.beats_1", password: "correct horse battery staple" } });
      expect(login.status).toBe(200);
    });

    test("a profile picture is typed by content (a PNG named .txt is fine), applied at once everywhere, served with its type, the old one deleted", async () => {
      env = await createTestEnv(driver, { PUBLIC_URL: "http://localhost" });
      const a = await producer();
      const postId = await insertProcessingPost(a.id);

      const res = await uploadAvatar(a, avatarForm(images.png, "notes.txt", "file", "text/plain"));
      expect(res.status).toBe(200);
      const body = await json(res);
      expect(Object.keys(body).sort()).toEqual(["url", "user"]);
      expect(body.url).toMatch(new RegExp(`^http://localhost/media/avatars/${a.id}/[0-9a-f]{32}\\.png$`));
      expectSelfUser(body.user);
      expect(body.user.avatar_url).toBe(body.url);

      // applied at once: the public profile, the own record, and the author fields of the user's posts
      expect((await json(await get(`/api/v1/users/${a.id}/profile`))).avatar_url).toBe(body.url);
      expect((await json(await get("/api/v1/users/me", a.token))).avatar_url).toBe(body.url);
      // Read as any client but the plugin does (no Content-Type on a GET): the plugin's own bodiless
      // GET /posts/{id} with that header is its delete (docs/plugin-contract.md).
      const post = await json(await env.request(`/api/v1/posts/${postId}`, { token: a.token }));
      expect(post.user_avatar_url).toBe(body.url);
      expect(post.user.avatar_url).toBe(body.url);

      // served without auth, with its own type and nosniff: our re-encoded PNG (it has transparency; ffmpeg made the
      // upload too, so the bytes may be the same: the EXIF test below shows the re-encoding)
      const served = await env.request(new URL(body.url).pathname);
      expect(served.status).toBe(200);
      expect(served.headers.get("content-type")).toBe("image/png");
      expect(served.headers.get("x-content-type-options")).toBe("nosniff");
      const stored = new Uint8Array(await served.arrayBuffer());
      expect(imageHeader(stored, "png")).toMatchObject({ width: 96, height: 96, alpha: true });
      expect(avatarFiles(a.id)).toHaveLength(1);

      // a new picture (a JPEG this time, under the plugin's field name) replaces the old one, which is deleted
      const next = await json(await uploadAvatar(a, avatarForm(images.jpg, "me.png", "file", "image/png")));
      expect(next.url).toMatch(/\.jpg$/);
      expect(next.url).not.toBe(body.url);
      expect((await env.request(new URL(body.url).pathname)).status).toBe(404);
      expect(avatarFiles(a.id)).toEqual([new URL(next.url).pathname.split("/").pop()!]);
      expect((await env.request(new URL(next.url).pathname)).headers.get("content-type")).toBe("image/jpeg");
      expect((await json(await get(`/api/v1/users/${a.id}/profile`))).avatar_url).toBe(next.url);
    });
  });
}

describe("profile picture answers", () => {
  let a: Producer;
  beforeAll(async () => {
    freshPerTest = false;
    env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost" });
    a = await producer();
  });
  afterAll(() => env.close());

  const ascii = (s: string) => new TextEncoder().encode(s);

  async function refused(body: FormData | ReadableStream, status: number, code: string, headers?: Record<string, string>) {
    const before = { files: avatarFiles(a.id), me: await json(await get("/api/v1/users/me", a.token)) };
    const res = await uploadAvatar(a, body, headers);
    const answer = await expectError(res, status, code);
    expect({ files: avatarFiles(a.id), me: await json(await get("/api/v1/users/me", a.token)) }).toEqual(before);
    return answer;
  }

  test("GIF and WebP are accepted too; without transparency they are stored and served as JPEG", async () => {
    for (const ext of ["gif", "webp"] as const) {
      const body = await json(await uploadAvatar(a, avatarForm(images[ext], "x.bin")));
      expect(body.url).toMatch(/\.jpg$/);
      const served = await env.request(new URL(body.url).pathname);
      expect(served.headers.get("content-type")).toBe("image/jpeg");
      expect(served.headers.get("x-content-type-options")).toBe("nosniff");
    }
    expect(avatarFiles(a.id)).toHaveLength(1);
  });

  test("decompression bombs are refused with 422 before decoding: an 8192×8192 PNG, a 60000×60000 frame in a 10×10 GIF", async () => {
    const png = await refused(avatarForm(pngBomb(8192, 8192)), 422, "image_too_large");
    expect(png.message).toContain("8192×8192");
    await refused(avatarForm(gifBomb()), 422, "image_too_large");
    await refused(avatarForm(apng(96, 96, [9000, 9000])), 422, "image_too_large");
  });

  test("a JPEG with EXIF GPS is served without it, re-encoded upright and at most 512 px", async () => {
    const photo = withExif(
      new Uint8Array(await Bun.file(await lavfi(join(work, "photo.jpg"), "color=c=blue:s=1200x900", ["-frames:v", "1"])).arrayBuffer()),
      6,
    );
    const body = await json(await uploadAvatar(a, avatarForm(photo, "IMG_0001.jpg", "file", "image/jpeg")));
    expect(body.url).toMatch(/\.jpg$/);
    const served = new Uint8Array(await (await env.request(new URL(body.url).pathname)).arrayBuffer());
    expect(contains(served, "Exif")).toBe(false);
    expect(contains(served, GPS_LATITUDE)).toBe(false);
    expect(imageHeader(served, "jpg")).toMatchObject({ width: 384, height: 512, orientation: 1 });
  });

  test("a text file named .png is refused with 415, nothing stored or changed", () =>
    refused(avatarForm(ascii("just some notes, honestly\n"), "avatar.png", "file", "image/png"), 415, "unsupported_image"));

  test("an SVG (script-capable) is refused with 415", () =>
    refused(
      avatarForm(ascii('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), "a.svg", "file", "image/svg+xml"),
      415,
      "unsupported_image",
    ));

  test("an empty file is 422, a PNG cut before its header 422", async () => {
    await refused(avatarForm(new Uint8Array(0)), 422, "empty_file");
    await refused(avatarForm(images.png.slice(0, 12)), 422, "corrupt_image");
  });

  test("a picture just over 5 MB is refused with 413", async () => {
    const big = new Uint8Array(5 * 1024 * 1024 + 100);
    big.set(images.png);
    await refused(avatarForm(big), 413, "payload_too_large");
  });

  test("a body far over 5 MB is refused while it streams, without being read whole", async () => {
    let sent = 0;
    const boundary = "----sidechain-avatar";
    const head = ascii(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n`);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(head);
        c.enqueue(images.png);
      },
      pull(c) {
        if (sent > 50 * 1024 * 1024) return c.close();
        sent += 64 * 1024;
        c.enqueue(new Uint8Array(64 * 1024));
      },
    });
    await refused(stream, 413, "payload_too_large", { "content-type": `multipart/form-data; boundary=${boundary}` });
    expect(sent).toBeLessThan(7 * 1024 * 1024);
  });

  test("a declared Content-Length over the limit is refused before reading", async () => {
    const res = await env.request("/api/v1/users/upload-profile-picture", {
      method: "POST",
      body: "x",
      token: a.token,
      headers: { "content-type": "multipart/form-data; boundary=x", "content-length": String(6 * 1024 * 1024) },
    });
    expect(res.status).toBe(413);
  });

  test("no file field is 400 naming `file`; no token is 401", async () => {
    const f = new FormData();
    f.set("other", "text");
    expect((await refused(f, 400, "validation_error")).fields).toEqual({ file: expect.any(String) });
    const anon = await env.request("/api/v1/users/upload-profile-picture", { method: "POST", body: avatarForm(images.png) });
    expect(anon.status).toBe(401);
  });
});

describe("text that lies: names, profile text and emails (src/lib/text.ts)", () => {
  const RLO = "\u202E";
  const ZWSP = "\u200B";
  const register = (body: Record<string, string>) =>
    env.request("/api/v1/auth/register", { method: "POST", json: { password: "correct horse battery staple", ...body } });

  test("profile edits refuse invisible and direction-changing characters, naming the field; real writing that needs joiners is kept", async () => {
    env = await createTestEnv();
    const a = await producer();
    const before = await json(await get("/api/v1/users/me", a.token));
    const cases: [Record<string, unknown>, string][] = [
      [{ display_name: `Night${RLO}staeB` }, "display_name"],
      [{ display_name: `ad${ZWSP}min` }, "display_name"],
      [{ display_name: "\u2066Night\u2069" }, "display_name"],
      [{ display_name: "Ni\uFEFFght" }, "display_name"],
      [{ display_name: "\u3164" }, "display_name"],
      [{ bio: `all good\nthen ${RLO}reversed` }, "bio"],
      [{ location: `Ber${ZWSP}lin` }, "location"],
      [{ genre: "lo\u00ADfi" }, "genre"],
      [{ daw: `Able${"\u200D"}ton` }, "daw"],
      [{ social_links: { instagram: `@night${ZWSP}beats` } }, "social_links.instagram"],
    ];
    for (const [body, field] of cases) {
      const answer = await expectError(await send("PUT", "/api/v1/users/me", body, a.token), 400, "validation_error");
      expect({ body, fields: Object.keys(answer.fields) }).toEqual({ body, fields: [field] });
      expect(answer.fields[field]).toMatch(/invisible or direction-changing/);
    }
    expect(await json(await get("/api/v1/users/me", a.token))).toEqual(before);

    // Emoji sequences, subdivision flags, Persian's zero-width non-joiner and NFC.
    for (const name of ["👩‍💻 Night Beats", "🏴󠁧󠁢󠁳󠁣󠁴󠁿 Loops", "می‌خواهم", "Night\u00A0\u00A0Beats"]) {
      const res = await send("PUT", "/api/v1/users/me", { display_name: name }, a.token);
      expect({ name, status: res.status }).toEqual({ name, status: 200 });
    }
    expect((await json(await get("/api/v1/users/me", a.token))).display_name).toBe("Night Beats");
    const nfd = "Jose\u0301";
    expect((await json(await send("PUT", "/api/v1/users/me", { display_name: nfd }, a.token))).display_name).toBe("José");
  });

  test("registration refuses lying display names, emails with NUL, zero-width or bidi characters, and reserved usernames; nothing is created", async () => {
    env = await createTestEnv();
    const cases: [Record<string, string>, Record<string, RegExp>][] = [
      [{ email: "a@example.com", username: "fine_name", display_name: `Night${RLO}` }, { display_name: /invisible/ }],
      [{ email: "vic\u0000tim@example.com", username: "fine_name" }, { email: /email/ }],
      [{ email: `vic${ZWSP}tim@example.com`, username: "fine_name" }, { email: /email/ }],
      [{ email: `victim@exa${RLO}mple.com`, username: "fine_name" }, { email: /email/ }],
    ];
    for (const username of [
      "admin",
      "Administrator",
      ".well-known",
      "well-known",
      "api",
      "support",
      "ad.min",
      "admin_",
      "postmaster",
      "null",
      "everyone",
      "sidechain",
      "signin",
      "...",
    ]) {
      cases.push([{ email: "b@example.com", username }, { username: /reserved|characters/ }]);
    }
    for (const [body, fields] of cases) {
      const answer = await expectError(await register(body), 400, "validation_error");
      expect({ body, fields: Object.keys(answer.fields) }).toEqual({ body, fields: Object.keys(fields) });
      for (const [field, re] of Object.entries(fields)) expect(answer.fields[field]).toMatch(re);
    }
    expect(await env.deps.database.db.select().from(users)).toHaveLength(0);

    // An address typed in another Unicode form is the same address (NFC).
    const res = await register({ email: "jose\u0301@example.com", username: "jose_beats" });
    expect(res.status).toBe(201);
    expect((await json(res)).auth.user.email).toBe("jos\u00e9@example.com");
    const login = await env.request("/api/v1/auth/login", {
      method: "POST",
      json: { email: "JOS\u00c9@example.com", password: "correct horse battery staple" },
    });
    expect(login.status).toBe(200);
  });

  test("a username change to a reserved name is 400 naming username", async () => {
    env = await createTestEnv();
    const a = await producer();
    for (const username of ["admin", "Support", "moderator", "ab.out", "settings", "root"]) {
      const answer = await expectError(await send("PUT", "/api/v1/users/username", { username }, a.token), 400, "validation_error");
      expect(answer.fields).toEqual({ username: expect.stringContaining("reserved") });
    }
    expect((await json(await get("/api/v1/users/me", a.token))).username).toBe(a.username);
  });
});

// Request bodies (docs/security.md, Request bodies): each route declares what it takes. Small JSON routes take at most
// BODY_MAX_BYTES, refused while the body streams; only a signed-in producer gets an upload read; a path spelled
// with a trailing slash is the same route with the same limit; nesting is bounded; and API routes take JSON (and
// multipart where they upload), never the form or text bodies a foreign web page can make a browser send.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { declaredAccepts, JSON_MAX_DEPTH, nestsDeeperThan } from "../../src/http/body.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { startRealtime } from "../support/realtime.ts";
import { expectError, json, newUserInput, registerProducer, type Producer } from "../support/auth.ts";

const MB = 1024 * 1024;

/** A body that counts what was pulled from it: `sent()` tells how much of it the server read. */
function countingBody(total: number, head = new Uint8Array(0)) {
  let sent = 0;
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      if (head.byteLength) c.enqueue(head);
    },
    pull(c) {
      if (sent >= total) return c.close();
      sent += chunk.byteLength;
      c.enqueue(chunk);
    },
  });
  return { stream, sent: () => sent };
}

const multipartHead = (boundary: string, field: string, filename: string) =>
  new TextEncoder().encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );

const UPLOADS = ["/api/v1/audio/upload", "/api/v1/users/upload-profile-picture", "/api/v1/stories"];
const withSlash = (paths: string[]) => paths.flatMap((p) => [p, `${p}/`]);

let env: TestEnv;
let producer: Producer;
beforeAll(async () => {
  env = await createTestEnv();
  producer = await registerProducer(env);
});
afterAll(() => env.close());

const userCount = async () => Number((await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM users`))[0]!.n);

describe("small routes take small bodies", () => {
  test("the default limit is 64 KiB", () => {
    expect(env.deps.config.BODY_MAX_BYTES).toBe(64 * 1024);
  });

  test("a 60 MB JSON body to login without a length is cut as soon as it passes the limit", async () => {
    const body = countingBody(60 * MB, new TextEncoder().encode('{"email":"'));
    const res = await env.request("/api/v1/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: body.stream });
    await expectError(res, 413, "payload_too_large");
    expect(body.sent()).toBeLessThan(512 * 1024);
  });

  test("a declared Content-Length over the limit is refused before anything is read", async () => {
    const body = countingBody(MB);
    const res = await env.request("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(MB) },
      body: body.stream,
    });
    await expectError(res, 413, "payload_too_large");
    expect(body.sent()).toBeLessThanOrEqual(64 * 1024);
  });

  test("every route that takes a body has a declaration; JSON routes refuse 100 KB (both spellings), form routes refuse JSON", async () => {
    // The browser pages (at the root) and the plugin's sign-in confirmation (a page's form) take urlencoded forms.
    const takesForm = (path: string) => !path.startsWith("/api/") || path === "/api/v1/auth/oauth/confirm";
    const routes = env.app.routes.filter((r) => !["GET", "HEAD"].includes(r.method) && !r.path.includes("*"));
    expect(routes.length).toBeGreaterThan(30);
    const big = JSON.stringify({ filler: "x".repeat(100 * 1024) });
    const seen: Record<string, number> = {};
    const expected: Record<string, number> = {};
    for (const route of routes) {
      const declared = declaredAccepts(route);
      expect({ route: `${route.method} ${route.path}`, declared: Boolean(declared) }).toEqual({ route: `${route.method} ${route.path}`, declared: true });
      const path = route.path.replace(/:[^/]+/g, "x");
      for (const spelling of [path, `${path}/`]) {
        const method = route.method === "ALL" ? "POST" : route.method;
        const res = await env.request(spelling, { method, headers: { "content-type": "application/json" }, body: big });
        const key = `${method} ${spelling}`;
        seen[key] = res.status;
        // Uploads: nobody is signed in, so nothing is read. Browser forms: JSON is not what they take.
        expected[key] = UPLOADS.includes(route.path) ? 401 : takesForm(route.path) ? 415 : 413;
      }
    }
    expect(seen).toEqual(expected);
  });

  test("a browser form bigger than the limit is refused too", async () => {
    const res = await env.request("/signin", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `login=${"a".repeat(100 * 1024)}`,
    });
    await expectError(res, 413, "payload_too_large");
  });
});

describe("deeply nested JSON", () => {
  test("5,000 levels (10 KB) to login is a cheap 400 validation_error with no stack in the log", async () => {
    const body = `{"email":${"[".repeat(5000)}${"]".repeat(5000)},"password":"x"}`;
    const res = await env.request("/api/v1/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body });
    const err = await expectError(res, 400, "validation_error");
    expect(err.fields).toEqual({ body: `Nested deeper than ${JSON_MAX_DEPTH} levels` });
    expect(env.logs.filter((l) => l.level === "error")).toEqual([]);
  });

  test(`${JSON_MAX_DEPTH} levels still parse; brackets inside strings do not count`, () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(nestsDeeperThan(enc(`${"[".repeat(JSON_MAX_DEPTH)}${"]".repeat(JSON_MAX_DEPTH)}`), JSON_MAX_DEPTH)).toBe(false);
    expect(nestsDeeperThan(enc(`${"[".repeat(JSON_MAX_DEPTH + 1)}${"]".repeat(JSON_MAX_DEPTH + 1)}`), JSON_MAX_DEPTH)).toBe(true);
    expect(nestsDeeperThan(enc(JSON.stringify({ bio: "[".repeat(500), q: '\\"[[[' })), JSON_MAX_DEPTH)).toBe(false);
  });
});

describe("uploads are read only for a signed-in producer within the rate limit", () => {
  for (const path of withSlash(UPLOADS)) {
    test(`50 MB to ${path} without a token: 401, nothing read`, async () => {
      const boundary = "----sidechain-bodies";
      const body = countingBody(50 * MB, multipartHead(boundary, "audio_file", "big.wav"));
      const res = await env.request(path, { method: "POST", headers: { "content-type": `multipart/form-data; boundary=${boundary}` }, body: body.stream });
      await expectError(res, 401, "unauthorized");
      expect(body.sent()).toBeLessThan(MB);
    });
  }

  test("over the upload rate limit: 429 before the body is read", async () => {
    const limited = await createTestEnv("sqlite", { UPLOAD_RATE_PER_HOUR: "1" });
    try {
      const who = await registerProducer(limited);
      const form = new FormData();
      form.set("audio_file", new Blob([new Uint8Array(16)]), "loop.wav");
      await limited.request("/api/v1/audio/upload", { method: "POST", body: form, token: who.token }); // uses the one upload
      const boundary = "----sidechain-bodies";
      const body = countingBody(40 * MB, multipartHead(boundary, "audio_file", "big.wav"));
      const res = await limited.request("/api/v1/audio/upload/", {
        method: "POST",
        headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
        body: body.stream,
        token: who.token,
      });
      await expectError(res, 429, "rate_limited");
      expect(body.sent()).toBeLessThan(MB);
    } finally {
      await limited.close();
    }
  });
});

describe("a trailing slash is the same route with the same limit", () => {
  let small: TestEnv;
  let who: Producer;
  beforeAll(async () => {
    small = await createTestEnv("sqlite", { UPLOAD_MAX_BYTES: "1000000" });
    who = await registerProducer(small);
  });
  afterAll(() => small.close());

  for (const path of withSlash(["/api/v1/audio/upload"])) {
    test(`2 MB to ${path} with UPLOAD_MAX_BYTES=1000000 is cut while it streams; a declared 2 MB is refused unread`, async () => {
      const boundary = "----sidechain-bodies";
      const streamed = countingBody(2 * MB, multipartHead(boundary, "audio_file", "big.wav"));
      const type = { "content-type": `multipart/form-data; boundary=${boundary}` };
      await expectError(await small.request(path, { method: "POST", headers: type, body: streamed.stream, token: who.token }), 413, "payload_too_large");
      expect(streamed.sent()).toBeLessThan(1_000_000 + 256 * 1024);
      const declared = countingBody(2 * MB);
      await expectError(
        await small.request(path, { method: "POST", headers: { ...type, "content-length": String(2 * MB) }, body: declared.stream, token: who.token }),
        413,
        "payload_too_large",
      );
      expect(declared.sent()).toBeLessThanOrEqual(64 * 1024);
    });
  }

  for (const path of withSlash(["/api/v1/users/upload-profile-picture"])) {
    test(`a 6 MB picture to ${path} is cut while it streams`, async () => {
      const boundary = "----sidechain-bodies";
      const body = countingBody(6 * MB, multipartHead(boundary, "file", "big.png"));
      const res = await small.request(path, {
        method: "POST",
        headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
        body: body.stream,
        token: who.token,
      });
      await expectError(res, 413, "payload_too_large");
      expect(body.sent()).toBeLessThan(5 * MB + 256 * 1024);
    });
  }
});

describe("API routes take JSON, not the bodies a foreign page can send", () => {
  const foreign = { origin: "https://evil.example" };

  test("register from a foreign page's form (urlencoded, text/plain, multipart) is 415 and creates nothing", async () => {
    const before = await userCount();
    const input = newUserInput();
    const form = new URLSearchParams(input).toString();
    const multipart = new FormData();
    for (const [k, v] of Object.entries(input)) multipart.set(k, v);
    for (const [type, body] of [
      ["application/x-www-form-urlencoded", form],
      ["text/plain", JSON.stringify(input)],
      [undefined, multipart],
    ] as const) {
      const headers: Record<string, string> = { ...foreign, ...(type ? { "content-type": type } : {}) };
      await expectError(await env.request("/api/v1/auth/register", { method: "POST", headers, body }), 415, "unsupported_media_type");
    }
    expect(await userCount()).toBe(before);
  });

  test("a JSON body that does not say it is JSON is 415", async () => {
    const res = await env.request("/api/v1/auth/login", { method: "POST", body: new Blob(['{"login":"a","password":"b"}']) });
    await expectError(res, 415, "unsupported_media_type");
  });

  test("a multipart body that does not parse is 400 invalid_form", async () => {
    const res = await env.request("/api/v1/users/upload-profile-picture", {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=nope" },
      body: "garbage",
      token: producer.token,
    });
    await expectError(res, 400, "invalid_form");
  });

  test("an upload that is not multipart is 415", async () => {
    const res = await env.request("/api/v1/audio/upload", { method: "POST", json: { audio_file: "x" }, token: producer.token });
    await expectError(res, 415, "unsupported_media_type");
  });

  test("the plugin's requests keep working: JSON everywhere, also on GET and empty POSTs; no body and no type", async () => {
    expect((await env.request("/api/v1/users/me", { headers: { "content-type": "application/json" }, token: producer.token })).status).toBe(200);
    const empty = await env.request("/api/v1/users/me", { method: "POST", headers: { "content-type": "application/json" }, token: producer.token });
    expect((await json(empty)).username).toBe(producer.username);
    const bare = await env.request(`/api/v1/users/${producer.id}/follow`, { method: "PUT", token: (await registerProducer(env)).token });
    expect(bare.status).toBeLessThan(300);
  });

  test("the plugin's browser sign-in confirmation and the pages still take their forms", async () => {
    // Both reach their handler, which refuses the missing CSRF cookie with a page.
    for (const path of ["/api/v1/auth/oauth/confirm", "/signin"]) {
      const res = await env.request(path, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "csrf=x&ticket=x&decision=approve&login=a&password=b",
      });
      expect({ path, type: res.headers.get("content-type") }).toEqual({ path, type: expect.stringContaining("text/html") });
    }
  });

  test("the OpenAPI document lists the body refusals of routes that take a body", async () => {
    const doc = await (await env.request("/docs/json")).json();
    const login = doc.paths["/api/v1/auth/login"].post;
    expect(Object.keys(login.responses)).toEqual(expect.arrayContaining(["400", "413", "415"]));
    expect(Object.keys(login.requestBody.content)).toEqual(["application/json"]);
    expect(Object.keys(doc.paths["/api/v1/audio/upload"].post.requestBody.content)).toEqual(["multipart/form-data"]);
    expect(Object.keys(doc.paths["/api/v1/auth/oauth/confirm"].post.requestBody.content)).toEqual(["application/x-www-form-urlencoded"]);
  });
});

describe("on a listening server", () => {
  /** Sends raw HTTP/1.1 (headers and only `sent` bytes of the declared body) and returns the answer's head and body. */
  async function raw(url: string, head: string, sent: string): Promise<{ status: number; body: string }> {
    const { hostname, port } = new URL(url);
    let answer = "";
    const done = Promise.withResolvers<void>();
    const socket = await Bun.connect({
      hostname,
      port: Number(port),
      socket: {
        data(_s, chunk) {
          answer += new TextDecoder().decode(chunk);
          if (/\r\n\r\n[\s\S]*\}/.test(answer)) done.resolve();
        },
        close: () => done.resolve(),
        error: () => done.resolve(),
      },
    });
    socket.write(head + sent);
    await Promise.race([done.promise, Bun.sleep(10_000)]);
    socket.end();
    return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1]), body: answer.slice(answer.indexOf("\r\n\r\n") + 4) };
  }

  test("60 MB declared to login: the contract's 413 at once, with none of the body sent (Bun's limit is only a backstop)", async () => {
    const server = await startRealtime();
    try {
      const head = `POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${60 * 1000 * 1000}\r\n\r\n`;
      const res = await raw(server.url, head, '{"email":"');
      expect(res).toEqual({ status: 413, body: expect.stringContaining("payload_too_large") });
      expect(JSON.parse(res.body.slice(res.body.indexOf("{"))).error).toBe("payload_too_large");
    } finally {
      await server.stop();
    }
  });
});

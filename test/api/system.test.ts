// The HTTP conventions every route shares (docs/plugin-contract.md "Transport rules"), driven in process with app.handle.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Elysia, t } from "elysia";
import { errorHandler, errors } from "../../src/http/errors.ts";
import { observe } from "../../src/http/observe.ts";
import { bodies } from "../../src/http/body.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { eventually } from "../support/realtime.ts";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

/** The contract: an error is a non-2xx status with a non-empty string `error` and a string `message`. */
async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/json");
  const body = await res.json();
  expect(typeof body.error).toBe("string");
  expect(body.error).toBe(code);
  expect(typeof body.message).toBe("string");
  expect(body.message.length).toBeGreaterThan(0);
  return body;
}

describe("health and readiness", () => {
  test("GET /health answers {status:ok} without the API prefix, with no error key", async () => {
    const res = await env.request("/health");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({ status: "ok" });
    expect("error" in body).toBe(false);
  });

  test("GET /livez answers while the process lives", async () => {
    expect(await (await env.request("/livez")).json()).toEqual({ status: "ok" });
  });

  test("GET /readyz answers 503 in the contract shape when a dependency fails, and names it", async () => {
    env.deps.readiness.storage = async () => {
      throw new Error("disk full");
    };
    try {
      const body = await expectError(await env.request("/readyz"), 503, "not_ready");
      expect(body.message).toContain("storage");
      expect(env.logs.some((l) => l.msg === "not ready" && JSON.stringify(l.failed).includes("disk full"))).toBe(true);
    } finally {
      delete env.deps.readiness.storage;
    }
    expect((await env.request("/readyz")).status).toBe(200);
  });
});

describe("error contract", () => {
  // A small app made of the real error and observe plugins plus routes that fail in each way.
  const log = { debug() {}, info() {}, warn() {}, error: (msg: string, f?: object) => void logged.push({ msg, ...f }) };
  const logged: Record<string, unknown>[] = [];
  const app = new Elysia()
    .use(errorHandler(log))
    .use(observe({ log }))
    .use(bodies(1024))
    .guard({ accepts: { kinds: ["json"] } }, (json) =>
      json
        .post("/things", ({ body }) => ({ name: body.name }), { body: t.Object({ name: t.String({ minLength: 3 }), size: t.Integer() }) })
        .get("/boom", () => {
          throw new Error("database password is hunter2");
        })
        .get("/limited", () => {
          throw errors.rateLimited(7);
        })
        .post("/echo", ({ body }) => ({ got: body ?? null })),
    );
  const call = (path: string, init?: RequestInit) => app.handle(new Request(`http://localhost${path}`, init));

  test("an unknown route is 404 not_found in the contract shape", async () => {
    await expectError(await env.request("/api/v1/nope"), 404, "not_found");
  });

  test("a validation error is 400 validation_error and lists the offending fields", async () => {
    const res = await call("/things", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "x" }) });
    const body = await expectError(res, 400, "validation_error");
    expect(Object.keys(body.fields).sort()).toEqual(["name", "size"]);
  });

  test("a thrown internal error is a fixed 500 message; the details go to the log only", async () => {
    const res = await call("/boom");
    const body = await expectError(res, 500, "internal_error");
    expect(JSON.stringify(body)).not.toContain("hunter2");
    expect(JSON.stringify(logged)).toContain("hunter2");
  });

  test("429 carries Retry-After in seconds", async () => {
    const res = await call("/limited");
    await expectError(res, 429, "rate_limited");
    expect(res.headers.get("retry-after")).toBe("7");
  });

  test("malformed JSON is 400 invalid_json", async () => {
    const res = await call("/echo", { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
    await expectError(res, 400, "invalid_json");
  });

  test("the plugin's empty JSON body is accepted as an empty object", async () => {
    const res = await call("/echo", { method: "POST", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ got: {} });
  });

  test("GET with Content-Type: application/json and no body works (the plugin sends it)", async () => {
    const res = await env.request("/health", { headers: { "content-type": "application/json" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  test("a declared body over the limit is refused with 413 before it is read", async () => {
    const res = await call("/echo", { method: "POST", headers: { "content-type": "application/json", "content-length": "5000" }, body: "x".repeat(5000) });
    await expectError(res, 413, "payload_too_large");
  });

  test("a chunked body over the limit is cut off while it streams", async () => {
    let sent = 0;
    const stream = new ReadableStream({
      pull(c) {
        if (sent > 100_000) return c.close();
        sent += 512;
        c.enqueue(new TextEncoder().encode("a".repeat(512)));
      },
    });
    const res = await call("/echo", { method: "POST", headers: { "content-type": "application/json" }, body: stream });
    await expectError(res, 413, "payload_too_large");
    expect(sent).toBeLessThan(100_000); // stopped reading well before the end
  });
});

describe("request id and request log", () => {
  test("every response carries a request id, and a sane incoming one is kept", async () => {
    const a = await env.request("/health");
    expect(a.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const b = await env.request("/health", { headers: { "x-request-id": "client-abc-123" } });
    expect(b.headers.get("x-request-id")).toBe("client-abc-123");
    const c = await env.request("/health", { headers: { "x-request-id": "bad id; with <spaces>" } });
    expect(c.headers.get("x-request-id")).not.toContain("bad");
    const e = await env.request("/nope");
    expect(e.headers.get("x-request-id")).toBeTruthy();
  });

  test("one JSON log line per request with method, path, status, duration and id, and no query string", async () => {
    env.logs.length = 0;
    const res = await env.request("/api/v1/missing?token=secret-token-value");
    const find = () => env.logs.find((l) => l.msg === "request" && l.path === "/api/v1/missing");
    await eventually(() => find() !== undefined, 5000, "the request's log line").catch(() => undefined); // written after the response
    const line = find();
    expect(line).toBeDefined();
    expect(line).toMatchObject({ method: "GET", status: 404, request_id: res.headers.get("x-request-id") });
    expect(typeof line!.duration_ms).toBe("number");
    expect(JSON.stringify(env.logs)).not.toContain("secret-token-value");
  });
});

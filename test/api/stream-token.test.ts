// GET /api/v1/auth/stream-token: a Stream.io user token (from @stream-io/node-sdk) when Stream.io is configured,
// 404 stream_disabled otherwise.
import { afterEach, describe, expect, test } from "bun:test";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { json, registerUser } from "../support/auth.ts";

let env: TestEnv;
afterEach(() => env?.close());

const SECRET = "stream-test-secret-0123456789abcdefghijklmnop";

describe("stream token", () => {
  test("is an HS256 JWT signed with the Stream secret carrying the user's id, with the API key", async () => {
    env = await createTestEnv("sqlite", { STREAM_API_KEY: "mmhfdzb5evj2", STREAM_API_SECRET: SECRET, STREAM_BASE_URL: "http://127.0.0.1:9" });
    const { auth } = await registerUser(env);
    const res = await env.request("/api/v1/auth/stream-token", { token: auth.token, headers: { "content-type": "application/json" } });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(Object.keys(body).sort()).toEqual(["api_key", "token", "user_id"]);
    expect(body.api_key).toBe("mmhfdzb5evj2");
    expect(body.user_id).toBe(auth.user.id);
    expect(decodeProtectedHeader(body.token).alg).toBe("HS256");
    const { payload } = await jwtVerify(body.token, new TextEncoder().encode(SECRET), { algorithms: ["HS256"], currentDate: new Date(env.clock.now()) });
    expect(payload.user_id).toBe(auth.user.id);
    expect(payload.exp! - payload.iat!).toBe(env.deps.config.ACCESS_TOKEN_TTL_S);
    // not signed with anything else
    await expect(jwtVerify(body.token, new TextEncoder().encode("another secret entirely, long enough"))).rejects.toThrow();
  });

  test("needs a signed-in user", async () => {
    env = await createTestEnv("sqlite", { STREAM_API_KEY: "k", STREAM_API_SECRET: SECRET });
    const res = await env.request("/api/v1/auth/stream-token");
    expect(res.status).toBe(401);
    expect((await json(res)).error).toBe("unauthorized");
  });

  test("without STREAM_API_KEY and STREAM_API_SECRET it is 404 stream_disabled", async () => {
    for (const extra of [{}, { STREAM_API_KEY: "only-the-key" }] as Record<string, string>[]) {
      env = await createTestEnv("sqlite", extra);
      const { auth } = await registerUser(env);
      const res = await env.request("/api/v1/auth/stream-token", { token: auth.token });
      expect(res.status).toBe(404);
      const body = await json(res);
      expect(body.error).toBe("stream_disabled");
      expect(typeof body.message).toBe("string");
      await env.close();
    }
    env = undefined as unknown as TestEnv;
  });
});

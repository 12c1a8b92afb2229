// Rate limits with REDIS_URL: every instance counts against the same limits on one real redis-server, and an
// instance that cannot reach Redis keeps limiting on its own instead of blocking or waving requests through.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { redisRateLimits, type RateLimits } from "../../src/http/rate-limit.ts";
import { ApiError } from "../../src/http/errors.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { json, newUserInput } from "../support/auth.ts";
import { REDIS_SERVER, startRedis, type RedisServer } from "../support/redis.ts";

const log = () => {
  const lines: { msg: string }[] = [];
  const at = (msg: string) => void lines.push({ msg });
  return { lines, debug: at, info: at, warn: at, error: at };
};

/** The status and Retry-After of a rejected limiter call, or "ok". */
async function outcome(p: Promise<void>): Promise<"ok" | { status: number; retryAfterS: number }> {
  try {
    await p;
    return "ok";
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { status: err.status, retryAfterS: Number(err.headers?.["retry-after"]) };
  }
}

describe.skipIf(!REDIS_SERVER)("rate limits shared through Redis", () => {
  let redis: RedisServer;
  const clients: Bun.RedisClient[] = [];
  let now = Date.UTC(2026, 10, 26, 12);
  const clock = { now: () => now };

  async function instance(prefix: string, url = redis.url, timeoutMs = 250) {
    const client = new Bun.RedisClient(url, { connectionTimeout: 500, autoReconnect: true, enableOfflineQueue: true });
    clients.push(client);
    const l = log();
    return { limits: redisRateLimits(client, { prefix, clock, log: l, timeoutMs }), log: l };
  }

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await redis?.stop();
  });

  test("a sliding window counts the hits of every instance, answers Retry-After, and slides", async () => {
    const [a, b] = [(await instance("w1")).limits, (await instance("w1")).limits];
    const opts = { name: "logins", limit: 3, windowMs: 60_000 };
    const [la, lb] = [a.window(opts), b.window(opts)];
    expect(await outcome(la.hit("ip:1"))).toBe("ok");
    now += 10_000;
    expect(await outcome(lb.hit("ip:1"))).toBe("ok");
    expect(await outcome(la.hit("ip:1"))).toBe("ok");
    // The fourth, on either instance: refused until the first hit leaves the window (50 s from now).
    expect(await outcome(lb.hit("ip:1"))).toEqual({ status: 429, retryAfterS: 50 });
    expect(await outcome(la.hit("ip:1"))).toEqual({ status: 429, retryAfterS: 50 });
    expect(await outcome(la.hit("ip:2"))).toBe("ok"); // other keys are other counts
    now += 50_001;
    expect(await outcome(lb.hit("ip:1"))).toBe("ok");
    // Another deployment on the same Redis (another REDIS_PREFIX) has its own counts.
    expect(await outcome((await instance("other")).limits.window(opts).hit("ip:1"))).toBe("ok");
  });

  test("the login backoff of an account is the same on every instance, and a success clears it", async () => {
    const [a, b]: RateLimits[] = [(await instance("b1")).limits, (await instance("b1")).limits];
    const opts = { name: "login", freeFailures: 2, maxS: 60 };
    const [ba, bb] = [a.backoff(opts), b.backoff(opts)];
    await ba.fail("login:ann");
    expect(await outcome(bb.check("login:ann"))).toBe("ok"); // one failure is free
    await bb.fail("login:ann"); // the second starts the backoff: 1 s, then 2, 4...
    expect(await outcome(ba.check("login:ann"))).toEqual({ status: 429, retryAfterS: 1 });
    await ba.fail("login:ann");
    expect(await outcome(bb.check("login:ann"))).toEqual({ status: 429, retryAfterS: 2 });
    for (let i = 0; i < 10; i++) await bb.fail("login:ann");
    expect(await outcome(ba.check("login:ann"))).toEqual({ status: 429, retryAfterS: 60 }); // capped at maxS
    now += 60_001;
    expect(await outcome(ba.check("login:ann"))).toBe("ok");
    await bb.fail("login:ann");
    await ba.succeed("login:ann");
    expect(await outcome(bb.check("login:ann"))).toBe("ok");
  });

  test("without Redis an instance limits on its own, does not hang, and says so once", async () => {
    const down = await startRedis();
    const { limits, log: l } = await instance("d1", down.url, 100);
    await down.stop();
    const w = limits.window({ name: "reactions", limit: 2, windowMs: 60_000 });
    expect(await outcome(w.hit("u1"))).toBe("ok");
    expect(await outcome(w.hit("u1"))).toBe("ok");
    expect(await outcome(w.hit("u1"))).toEqual({ status: 429, retryAfterS: 60 });
    const b = limits.backoff({ name: "login", freeFailures: 1, maxS: 60 });
    await b.fail("login:bob");
    expect(await outcome(b.check("login:bob"))).toEqual({ status: 429, retryAfterS: 1 });
    await b.succeed("login:bob");
    expect(await outcome(b.check("login:bob"))).toBe("ok");
    expect(l.lines.filter((x) => x.msg.startsWith("rate limits: Redis unavailable"))).toHaveLength(1);
  });

  describe("through the API: two servers with REDIS_URL", () => {
    let A: TestEnv, B: TestEnv;
    beforeAll(async () => {
      const env = { REDIS_URL: redis.url, REDIS_PREFIX: "api1", RATE_LIMIT_AUTH_PER_MIN: "4" };
      [A, B] = [await createTestEnv("sqlite", env), await createTestEnv("sqlite", env)];
    });
    afterAll(async () => {
      await A?.close();
      await B?.close();
    });

    test("a client spreading its sign-in attempts over both servers gets the limit of one", async () => {
      expect(A.deps.limits.kind).toBe("redis");
      const attempt = (env: TestEnv) =>
        env.request("/api/v1/auth/login", { method: "POST", json: { email: newUserInput().email, password: "wrong wrong wrong" } });
      const statuses = [];
      for (const env of [A, B, A, B, A, B]) statuses.push((await attempt(env)).status);
      expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
      const refused = await attempt(A);
      expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
      expect((await json(refused)).error).toBe("rate_limited");
    });
  });
});

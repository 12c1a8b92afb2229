import { describe, expect, test } from "bun:test";
import { loadConfig } from "../config.ts";
import { ApiError } from "./errors.ts";
import { memoryRateLimits, type RateLimits, type WindowOptions } from "./rate-limit.ts";
import { countsByUser, createRouteLimits, ROUTE_LIMITS, type RouteLimitName } from "./route-limits.ts";

const config = loadConfig({ DATA_DIR: "/tmp", RATE_LIMIT_AUTH_PER_MIN: "2", RATE_LIMIT_DEVICE_POLL_PER_MIN: "3", UPLOAD_RATE_PER_HOUR: "4" });

/** Memory limits that also record which windows were made and which keys were hit. */
function recording(now = () => 0) {
  const inner = memoryRateLimits({ now });
  const windows: WindowOptions[] = [];
  const hits: string[] = [];
  const limits: RateLimits = {
    kind: "memory",
    window(opts) {
      windows.push(opts);
      const w = inner.window(opts);
      return { hit: (key) => (hits.push(`${opts.name}:${key}`), w.hit(key)) };
    },
    backoff: (opts) => inner.backoff(opts),
  };
  return { limits, windows, hits };
}

const rejects = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  expect((err as ApiError).status).toBe(429);
};

describe("route limits", () => {
  test("each counter is made once, with its limit from the configuration", () => {
    const { limits, windows } = recording();
    createRouteLimits(config, limits);
    const byName = Object.fromEntries(windows.map((w) => [w.name, w]));
    expect(windows).toHaveLength(Object.keys(byName).length);
    expect(byName["auth-ip"]).toEqual({ name: "auth-ip", limit: 2, windowMs: 60_000 });
    expect(byName["device-poll"]).toEqual({ name: "device-poll", limit: 3, windowMs: 60_000 });
    expect(byName["oauth-poll"]).toEqual({ name: "oauth-poll", limit: 8, windowMs: 60_000 });
    expect(byName.uploads).toEqual({ name: "uploads", limit: 4, windowMs: 3_600_000 });
    expect(byName.follows).toEqual({ name: "follows", limit: 300, windowMs: 3_600_000 });
    // Every limit of the table spends a counter that exists.
    for (const row of Object.values(ROUTE_LIMITS)) expect(byName[row.counter]).toBeDefined();
  });

  test("keys: per IP under the group's prefix, per user, or both", async () => {
    const { limits, hits } = recording();
    const r = createRouteLimits(config, limits);
    await r.hit("login", { ip: "1.2.3.4" });
    await r.hit("device-code", { ip: "1.2.3.4" });
    await r.hit("oauth-start", { ip: "1.2.3.4", userId: "u1" });
    await r.hit("uploads", { ip: "1.2.3.4", userId: "u1" });
    await r.hit("device-verify", { ip: "1.2.3.4", userId: "u1" });
    expect(hits).toEqual([
      "auth-ip:login:1.2.3.4",
      "device-code:1.2.3.4",
      "oauth-flow:start:1.2.3.4",
      "uploads:u1",
      "device-verify:ip:1.2.3.4",
      "device-verify:user:u1",
    ]);
  });

  test("groups that share a counter have their own budgets; names that share a group share one", async () => {
    const r = createRouteLimits(config, recording().limits);
    const ip = { ip: "5.6.7.8" };
    await r.hit("login", ip);
    await r.hit("login", ip);
    await rejects(r.hit("login", ip));
    await r.hit("register", ip); // same counter, another group
    await r.hit("register", { ip: "9.9.9.9" });
    await r.hit("register", ip);
    await rejects(r.hit("register", ip));
  });

  test("a limit counted by user refuses to run without one (a route missing { auth: true })", async () => {
    const r = createRouteLimits(config, recording().limits);
    for (const name of Object.keys(ROUTE_LIMITS) as RouteLimitName[]) {
      if (countsByUser(name)) await expect(r.hit(name, { ip: "1.1.1.1" })).rejects.toThrow(/needs \{ auth: true \}/);
    }
    expect(countsByUser("plays")).toBe(true);
    expect(countsByUser("device-verify")).toBe(true);
    expect(countsByUser("refresh")).toBe(false);
  });

  test("the login backoffs: the per-client one and the account-wide one with ten times the free failures", async () => {
    const r = createRouteLimits(loadConfig({ DATA_DIR: "/tmp", LOGIN_FAILURES_BEFORE_BACKOFF: "1" }), recording().limits);
    await r.loginBackoff.fail("a|ip");
    await rejects(r.loginBackoff.check("a|ip"));
    for (let i = 0; i < 9; i++) await r.accountBackoff.fail("a");
    await r.accountBackoff.check("a");
    await r.accountBackoff.fail("a");
    await rejects(r.accountBackoff.check("a"));
  });
});

import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, parseEnv } from "./config.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "sc-config-"));

describe("config", () => {
  test("no configuration gives a working local server", () => {
    const e = parseEnv({});
    expect(e.PORT).toBe(8787);
    expect(e.HOST).toBe("localhost");
    expect(e.DATA_DIR).toBe("./data");
    expect(e.LOG_LEVEL).toBe("info");
    const dir = tmp();
    const c = loadConfig({ DATA_DIR: dir });
    expect(c.PUBLIC_URL).toBe("http://localhost:8787");
    expect(c.DATABASE_KIND).toBe("sqlite");
    expect(Object.isFrozen(c)).toBe(true);
  });

  test("numbers are parsed from strings and PUBLIC_URL loses its trailing slash", () => {
    const c = loadConfig({ DATA_DIR: tmp(), PORT: "9000", PUBLIC_URL: "https://loops.example.com/" });
    expect(c.PORT).toBe(9000);
    expect(c.PUBLIC_URL).toBe("https://loops.example.com");
    expect(loadConfig({ DATA_DIR: tmp(), STREAM_BASE_URL: "http://127.0.0.1:8090//" }).STREAM_BASE_URL).toBe("http://127.0.0.1:8090");
  });

  test.each([
    [{ PORT: "abc" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ DATABASE_URL: "postgres://x" }, "DATABASE_URL"],
    [{ DATABASE_URL: "libsql:/missing-slashes" }, "DATABASE_URL"],
    [{ PUBLIC_URL: "loops.example.com" }, "PUBLIC_URL"],
    [{ JWT_SECRET: "short" }, "JWT_SECRET"],
    [{ REDIS_LIMIT_TIMEOUT_MS: "0" }, "REDIS_LIMIT_TIMEOUT_MS"],
    [{ NOTIFICATION_RETENTION_DAYS: "-1" }, "NOTIFICATION_RETENTION_DAYS"],
    [{ NOTIFICATION_RETENTION_DAYS: "ninety" }, "NOTIFICATION_RETENTION_DAYS"],
    // JSON and form bodies only: an old setting sized for uploads (60 MiB) must stop the start, not allow huge JSON.
    [{ BODY_MAX_BYTES: String(60 * 1024 * 1024) }, "BODY_MAX_BYTES"],
  ])("bad value %p is refused naming %s", (env, name) => {
    expect(() => parseEnv(env)).toThrow(ConfigError);
    try {
      parseEnv(env);
    } catch (err) {
      expect((err as Error).message).toContain(`${name}=`);
    }
  });

  test("an unwritable DATA_DIR is refused with a readable message", () => {
    // A path below a regular file can never be created, even by root (who ignores permission bits).
    const file = join(tmp(), "a-file");
    writeFileSync(file, "x");
    expect(() => loadConfig({ DATA_DIR: join(file, "data") })).toThrow(/DATA_DIR=.*not a writable directory/);
  });

  test("the signing secret is generated once, kept with mode 0600, and reused", () => {
    const dir = tmp();
    const a = loadConfig({ DATA_DIR: dir });
    const b = loadConfig({ DATA_DIR: dir });
    expect(a.JWT_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(b.JWT_SECRET).toBe(a.JWT_SECRET);
    const file = join(dir, "secrets.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8")).JWT_SECRET).toBe(a.JWT_SECRET);
    // a configured secret wins over the stored one
    const c = loadConfig({ DATA_DIR: dir, JWT_SECRET: "x".repeat(40) });
    expect(c.JWT_SECRET).toBe("x".repeat(40));
  });

  test("a damaged secrets file stops the start instead of silently replacing sessions' key", () => {
    const dir = tmp();
    writeFileSync(join(dir, "secrets.json"), "{not json");
    expect(() => loadConfig({ DATA_DIR: dir })).toThrow(/secrets.json is unreadable or damaged/);
  });
});

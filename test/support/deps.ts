// Fresh dependencies for one test: a new DATA_DIR, a new database (a SQLite file, or a new real sqld server for
// the libSQL driver), a captured log and a settable clock. Returns the app built from them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import type { Deps } from "../../src/deps.ts";
import { buildDeps } from "../../src/index.ts";
import { startSqld } from "./sqld.ts";

export type Driver = "sqlite" | "libsql";
/** Every driver the database-facing suites run against. */
export const DRIVERS: Driver[] = ["sqlite", "libsql"];

export type TestEnv = {
  deps: Deps;
  app: ReturnType<typeof createApp>;
  logs: Record<string, unknown>[];
  clock: { now(): number; set(ms: number): void; advance(ms: number): void };
  /** Calls the app in process, like a client would over HTTP. */
  request(path: string, init?: RequestInit & { json?: unknown; token?: string }): Promise<Response>;
  close(): Promise<void>;
};

export async function createTestEnv(driver: Driver = "sqlite", env: Record<string, string> = {}): Promise<TestEnv> {
  const dataDir = mkdtempSync(join(tmpdir(), "sc-test-"));
  const sqld = driver === "libsql" ? await startSqld() : undefined;
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "debug", ...(sqld ? { DATABASE_URL: sqld.url } : {}), ...env });
  const logs: Record<string, unknown>[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void logs.push({ level, msg, ...fields });
  const log = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  let now = Date.now();
  const clock = { now: () => now, set: (ms: number) => void (now = ms), advance: (ms: number) => void (now += ms) };
  const deps = await buildDeps(config, { log, clock });
  const app = createApp(deps);
  return {
    deps,
    app,
    logs,
    clock,
    request(path, init = {}) {
      const headers = new Headers(init.headers);
      let body = init.body;
      if (init.json !== undefined) {
        headers.set("content-type", "application/json");
        body = JSON.stringify(init.json);
      }
      if (init.token) headers.set("authorization", `Bearer ${init.token}`);
      return app.handle(new Request(`http://localhost${path}`, { ...init, headers, body }));
    },
    async close() {
      await deps.close({ graceMs: 1000 });
      await sqld?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

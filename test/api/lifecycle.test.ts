// The server lifecycle in process: start() listens, stop() lets in-flight requests finish, then closes the db.
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { start } from "../../src/index.ts";
import { notifications, users } from "../../src/db/schema.ts";
import { waitFor } from "../support/net.ts";

test("a graceful stop lets an in-flight request finish and then refuses new connections", async () => {
  const config = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), "sc-life-")), PORT: "0", LOG_LEVEL: "error" });
  const running = await start(config);
  const url = `http://127.0.0.1:${running.server.port}`;
  let release!: () => void;
  const slowCheckStarted = new Promise<void>((resolve) => {
    running.deps.readiness.slow = () => {
      resolve();
      return new Promise<void>((r) => (release = r));
    };
  });
  const inFlight = fetch(`${url}/readyz`);
  await slowCheckStarted;
  const stopped = running.stop();
  setTimeout(() => release(), 100);
  const res = await inFlight;
  expect(res.status).toBe(200);
  await stopped;
  await expect(fetch(`${url}/health`)).rejects.toThrow();
  // stop() is idempotent
  await running.stop();
});

test("a stop that outlasts SHUTDOWN_TIMEOUT_MS closes the remaining connections", async () => {
  const config = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), "sc-life-")), PORT: "0", LOG_LEVEL: "error", SHUTDOWN_TIMEOUT_MS: "50" });
  const running = await start(config);
  running.deps.readiness.stuck = () => new Promise<void>(() => {});
  const inFlight = fetch(`http://127.0.0.1:${running.server.port}/readyz`).then(
    (r) => r.status,
    () => "closed",
  );
  await Bun.sleep(50);
  await running.stop();
  expect(await inFlight).toBe("closed");
});

test("a starting server prunes notifications older than NOTIFICATION_RETENTION_DAYS (then hourly)", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sc-life-"));
  const logs: { msg: string; count?: number }[] = [];
  const at = (msg: string, f?: Record<string, unknown>) => void logs.push({ msg, ...f });
  const log = { debug: at, info: at, warn: at, error: at };
  const config = loadConfig({ DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "error", NOTIFICATION_RETENTION_DAYS: "30" });
  const first = await start(config, { log });
  const { db } = first.deps.database;
  const now = Date.now();
  const user = (id: string) => ({ id, username: id, displayName: id, createdAt: now, updatedAt: now });
  await db.insert(users).values([user("u_old_1"), user("u_old_2")]);
  const note = (days: number) => ({
    id: Bun.randomUUIDv7(),
    userId: "u_old_1",
    actorId: "u_old_2",
    kind: "follow",
    dedupeKey: `life:${days}`,
    createdAt: now - days * 86_400_000,
  });
  await db.insert(notifications).values([note(31), note(45), note(29)]);
  await first.stop();
  const second = await start(config, { log });
  try {
    await waitFor(async () => logs.some((l) => l.msg === "old notifications pruned"), 5000);
    expect(logs.find((l) => l.msg === "old notifications pruned")?.count).toBe(2);
    const left = await second.deps.database.db.select({ key: notifications.dedupeKey }).from(notifications);
    expect(left.map((r) => r.key)).toEqual(["life:29"]);
  } finally {
    await second.stop();
  }
});

// The server lifecycle in process: start() listens, stop() lets in-flight requests finish, then closes the db.
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { start } from "../../src/index.ts";

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

// The compiled single executable, run as a user runs it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSqld } from "../support/sqld.ts";
import { freePort, waitFor } from "../support/net.ts";
import { buildBinary, startBinary, type ServerProcess } from "./harness.ts";

// The build takes a few seconds (more on a loaded machine): do it once, up front, with room to spare.
beforeAll(() => buildBinary().then(() => undefined), 180_000);

const running: ServerProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop("SIGKILL")));
});
async function start(opts: Parameters<typeof startBinary>[0] = {}) {
  const s = await startBinary(opts);
  running.push(s);
  return s;
}

describe("the compiled binary", () => {
  test("runs from an empty directory and answers /health, /docs/json and /docs", async () => {
    const s = await start();
    expect(await (await fetch(`${s.url}/health`)).json()).toEqual({ status: "ok" });
    const doc = await (await fetch(`${s.url}/docs/json`)).json();
    expect(doc.openapi).toMatch(/^3\.1/);
    expect(doc.paths["/health"]).toBeDefined();
    const html = await (await fetch(`${s.url}/docs`)).text();
    expect(html).toContain("/docs/assets/swagger-ui-bundle.js");
    const js = await fetch(`${s.url}/docs/assets/swagger-ui-bundle.js`);
    expect(js.status).toBe(200);
    expect((await js.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
    // one JSON log line per request
    await Bun.sleep(20);
    const lines = s.stdout.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    expect(lines.some((l) => l.msg === "request" && l.path === "/health" && l.status === 200 && l.request_id)).toBe(true);
  });

  test("SIGTERM stops it cleanly; a second start on the same DATA_DIR keeps its data and secret", async () => {
    const a = await start();
    const secret = await Bun.file(join(a.dataDir, "secrets.json")).text();
    const id1 = a.stdout.map((l) => JSON.parse(l)).find((l) => l.msg === "listening").installation_id;
    expect(await a.stop("SIGTERM")).toBe(0);
    expect(a.stdout.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
    const b = await start({ dataDir: a.dataDir });
    const id2 = b.stdout.map((l) => JSON.parse(l)).find((l) => l.msg === "listening").installation_id;
    expect(id2).toBe(id1);
    expect(await Bun.file(join(b.dataDir, "secrets.json")).text()).toBe(secret);
    expect(await b.stop("SIGINT")).toBe(0);
  });

  test("two servers on the same DATA_DIR both work and the database stays intact", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sc-shared-"));
    const [a, b] = await Promise.all([start({ dataDir }), start({ dataDir })]);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => fetch(`${(i % 2 ? a : b).url}/readyz`).then((r) => r.status)));
    expect(answers.every((s) => s === 200)).toBe(true);
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
    const db = new Database(join(dataDir, "sidechain.db"), { readonly: true });
    expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    expect((db.query("SELECT count(*) AS n FROM meta WHERE key = 'installation_id'").get() as { n: number }).n).toBe(1);
    db.close();
  });

  test("uses a real libSQL server when DATABASE_URL points at one", async () => {
    const sqld = await startSqld();
    try {
      const s = await start({ env: { DATABASE_URL: sqld.url } });
      const ready = await (await fetch(`${s.url}/readyz`)).json();
      expect(ready.checks.database).toBe("ok");
      expect(s.stdout.some((l) => l.includes('"database":"libsql"'))).toBe(true);
      expect(await s.stop()).toBe(0);
    } finally {
      await sqld.stop();
    }
  });

  describe("refuses to start on bad configuration, naming the variable", () => {
    const file = join(mkdtempSync(join(tmpdir(), "sc-cfg-")), "plain-file");
    writeFileSync(file, "x");
    test.each([
      [{ PORT: "abc" }, "PORT"],
      [{ DATA_DIR: join(file, "data") }, "DATA_DIR"],
      [{ DATABASE_URL: "mysql://nope" }, "DATABASE_URL"],
    ])("%p", async (env, name) => {
      const s = await start({ env, waitReady: false });
      const code = await s.proc.exited;
      await s.stop();
      expect(code).toBe(2);
      expect(s.stderr.join("\n")).toContain(`${name}=`);
    });
  });

  test("`sidechain relay <URL> --port N` forwards to a server and stops on SIGTERM", async () => {
    const server = await start();
    const port = await freePort();
    const relay = Bun.spawn([await buildBinary(), "relay", server.url, "--port", String(port)], {
      cwd: tmpdir(),
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      await waitFor(
        async () => (await fetch(`http://localhost:${port}/health`)).ok,
        15_000,
        () => relay.exitCode !== null,
      );
      expect(await (await fetch(`http://localhost:${port}/readyz`)).json()).toMatchObject({ status: "ok" });
      relay.kill("SIGTERM");
      expect(await relay.exited).toBe(0);
    } finally {
      if (relay.exitCode === null) relay.kill("SIGKILL");
    }
  });

  test("a busy port is reported clearly", async () => {
    const a = await start();
    const port = new URL(a.url).port;
    const s = await start({ env: { PORT: port }, waitReady: false });
    expect(await s.proc.exited).toBe(1);
    await s.stop();
    expect(s.stderr.join("\n")).toContain(`an address is already in use: PORT ${port}`);
  });

  test("BACKUP_SCHEDULE: the binary runs its own `backup create` at the next slot, and the backup verifies", async () => {
    // The scheduled backup spawns the program itself (src/backup/schedule.ts selfCommand): in a compiled binary that
    // is the executable alone, with no script path. "1m" makes the next slot the next whole minute.
    const backups = mkdtempSync(join(tmpdir(), "sc-backups-"));
    const s = await start({ env: { BACKUP_SCHEDULE: "1m", BACKUP_DIR: backups, JOB_POLL_MS: "100" } });
    await fetch(`${s.url}/api/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "owner@example.com", username: "owner", password: "correct horse battery staple 9" }),
    });
    const written = () =>
      s.stdout
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l))
        .find((l) => l.msg === "scheduled backup written");
    await waitFor(async () => Boolean(written()), 90_000);
    const dir = written().dir as string;
    expect(dir.startsWith(backups)).toBe(true);
    const verify = Bun.spawnSync([await buildBinary(), "backup", "verify", dir], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
    expect([verify.exitCode, verify.stderr.toString()]).toEqual([0, ""]);
  }, 120_000);
});

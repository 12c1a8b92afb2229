// `sidechain mail list`: run as a process, like a self-hoster without SMTP would, against a DATA_DIR whose
// outbox holds mail; it prints the messages with their links and exits without starting the server.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../src/cli.ts";
import { createTestEnv, type TestEnv } from "./support/deps.ts";
import { registerUser } from "./support/auth.ts";
import { mailOutbox } from "../src/db/schema.ts";

const ROOT = join(import.meta.dir, "..");
let env: TestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

async function run(args: string[], extraEnv: Record<string, string>) {
  const proc = Bun.spawn([process.execPath, "src/index.ts", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir(), ...extraEnv },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

test("`bun src/index.ts mail list` prints the outbox with its links, newest last, and exits", async () => {
  env = await createTestEnv("sqlite", { PUBLIC_URL: "https://loops.example.com" });
  const { input } = await registerUser(env);
  env.clock.advance(1_000);
  await env.deps.mailer.send({
    to: "second@example.com",
    subject: "A later message",
    text: "Hello\nhttps://loops.example.com/somewhere",
    html: "<p>Hello</p>",
  });
  const dataDir = env.deps.config.DATA_DIR;

  const all = await run(["mail", "list"], { DATA_DIR: dataDir, PUBLIC_URL: "https://loops.example.com" });
  expect(all.stderr).toBe("");
  expect(all.code).toBe(0);
  expect(all.stdout).toContain(`To:      ${input.email}`);
  expect(all.stdout).toContain("Subject: Confirm your email for Sidechain");
  expect(all.stdout).toMatch(/https:\/\/loops\.example\.com\/verify-email\?token=[A-Za-z0-9_-]{43}/);
  expect(all.stdout).toMatch(/Date: +\d{4}-\d\d-\d\dT/);
  expect(all.stdout.indexOf("Confirm your email")).toBeLessThan(all.stdout.indexOf("A later message"));
  expect(all.stdout).not.toContain('"msg":"listening"'); // the server did not start

  const one = await run(["mail", "list", "--limit", "1"], { DATA_DIR: dataDir });
  expect(one.code).toBe(0);
  expect(one.stdout).toContain("A later message");
  expect(one.stdout).not.toContain("Confirm your email");

  const bad = await run(["mail", "list", "--limit", "zero"], { DATA_DIR: dataDir });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("--limit");
});

test("runCli: no arguments start the server; help, unknown commands and an empty outbox", async () => {
  const lines: string[] = [];
  const io = { out: (l: string) => void lines.push(l), err: (l: string) => void lines.push(`ERR ${l}`) };
  expect(await runCli([], {}, io)).toBeNull();
  expect(await runCli(["help"], {}, io)).toBe(0);
  expect(lines.join("\n")).toContain("sidechain mail list [--limit N]");
  expect(await runCli(["serve-me-coffee"], {}, io)).toBe(2);
  expect(lines.at(-1)).toStartWith("ERR sidechain: unknown command");
  env = await createTestEnv();
  lines.length = 0;
  expect(await runCli(["mail", "list"], { DATA_DIR: env.deps.config.DATA_DIR }, io)).toBe(0);
  expect(lines).toEqual(["The mail outbox is empty."]);
});

describe("runCli in process", () => {
  const capture = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) }, out, err };
  };

  test("no arguments start the server; help prints the usage; unknown commands and options exit 2", async () => {
    expect(await runCli([], {})).toBeNull();
    const help = capture();
    expect(await runCli(["--help"], {}, help.io)).toBe(0);
    expect(help.out.join("\n")).toContain("mail list");
    for (const args of [
      ["mail", "send"],
      ["mail", "list", "--verbose"],
      ["mail", "list", "--limit", "0"],
      ["mail", "list", "--limit=abc"],
    ]) {
      const c = capture();
      expect(await runCli(args, {}, c.io)).toBe(2);
      expect(c.err.join("\n")).toContain("Usage");
    }
  });

  test("a bad configuration is reported, an empty outbox says so, and messages print with their links", async () => {
    const bad = capture();
    expect(await runCli(["mail", "list"], { PORT: "abc" }, bad.io)).toBe(2);
    expect(bad.err.join("\n")).toContain("PORT=");

    const empty = capture();
    expect(await runCli(["mail", "list"], { DATA_DIR: mkdtempSync(join(tmpdir(), "sc-cli-")) }, empty.io)).toBe(0);
    expect(empty.out).toEqual(["The mail outbox is empty."]);

    env = await createTestEnv("sqlite", { PUBLIC_URL: "https://loops.example.com" });
    const { input } = await registerUser(env);
    const full = capture();
    expect(await runCli(["mail", "list", "--limit=5"], { DATA_DIR: env.deps.config.DATA_DIR, PUBLIC_URL: "https://loops.example.com" }, full.io)).toBe(0);
    const text = full.out.join("\n");
    expect(text).toContain(`To:      ${input.email}`);
    expect(text).toContain("no SMTP_URL");
    expect(text).toMatch(/https:\/\/loops\.example\.com\/verify-email\?token=/);
  });

  test("with SMTP, each message shows where its delivery stands: retrying (and why), sent, or failed for good", async () => {
    env = await createTestEnv();
    const at = env.clock.now();
    const row = { text: "x", html: "<p>x</p>", createdAt: at };
    await env.deps.database.db.insert(mailOutbox).values([
      { ...row, id: "m1", to: "retrying@example.com", subject: "Retrying", status: "queued", attempts: 3, lastError: "connect ECONNREFUSED 127.0.0.1:25" },
      { ...row, id: "m2", to: "sent@example.com", subject: "Sent", status: "sent", attempts: 2, sentAt: at },
      { ...row, id: "m3", to: "failed@example.com", subject: "Failed", status: "failed", attempts: 36, lastError: "550 no such user" },
      { ...row, id: "m4", to: "new@example.com", subject: "New", status: "queued", attempts: 0 },
    ]);
    const c = capture();
    expect(await runCli(["mail", "list"], { DATA_DIR: env.deps.config.DATA_DIR, SMTP_URL: "smtp://127.0.0.1:25" }, c.io)).toBe(0);
    const mailLines = c.out.filter((l) => l.startsWith("Mail:"));
    expect(mailLines.sort()).toEqual([
      "Mail:    3 attempts failed so far, will retry: connect ECONNREFUSED 127.0.0.1:25",
      "Mail:    failed for good after 36 attempts: 550 no such user",
      `Mail:    sent ${new Date(at).toISOString()} (attempt 2)`,
    ]);
    expect(c.out.join("\n")).not.toContain("no SMTP_URL");
  });
});

// Mail over a real SMTP conversation (nodemailer from SMTP_URL against a local stand-in, test/support/smtp.ts),
// through the durable job queue: an outage of an hour, a restart, and the final failure after more than a day.
// Time is the test clock: the queue's run_at follows it, so "an hour later" is one clock.advance().
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { loadConfig } from "../src/config.ts";
import { jobs as jobsTable, mailOutbox } from "../src/db/schema.ts";
import type { Deps } from "../src/deps.ts";
import { buildDeps } from "../src/index.ts";
import { MAIL_MAX_ATTEMPTS } from "../src/integrations/mailer.ts";
import { createTestEnv } from "./support/deps.ts";
import { startSmtpStandIn, type SmtpStandIn } from "./support/smtp.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A stand-in that starts down (nothing listens on its port). */
function smtpDown(): SmtpStandIn {
  const smtp = startSmtpStandIn();
  smtp.down();
  cleanups.push(() => smtp.down());
  return smtp;
}

async function mailEnv(smtp: SmtpStandIn) {
  const env = await createTestEnv("sqlite", { SMTP_URL: smtp.url });
  cleanups.push(() => env.close());
  await env.deps.jobs.start();
  return env;
}

const outboxRow = async (deps: Pick<Deps, "database">, to: string) => (await deps.database.db.select().from(mailOutbox).where(eq(mailOutbox.to, to)))[0]!;
const message = (to: string, subject: string) => ({ to, subject, text: `${subject}: https://loops.example.com/x`, html: `<p>${subject}</p>` });

test("an hour-long SMTP outage loses nothing: the mail is retried with backoff and arrives once when SMTP is back", async () => {
  const smtp = smtpDown();
  const env = await mailEnv(smtp);
  const { mailer } = env.deps;
  await mailer.send(message("outage@example.com", "Reset your password"));
  await mailer.idle();
  const first = await outboxRow(env.deps, "outage@example.com");
  expect(first).toMatchObject({ status: "queued", attempts: 1 });
  expect(first.lastError).toMatch(/ECONNREFUSED|connect/i);

  // An hour passes with the server down: attempts keep failing, none is the last.
  for (let t = 0; t < 60; t += 5) {
    env.clock.advance(5 * MINUTE);
    await mailer.idle();
  }
  const during = await outboxRow(env.deps, "outage@example.com");
  expect(during.status).toBe("queued");
  expect(during.attempts).toBeGreaterThanOrEqual(4);
  expect(smtp.received).toEqual([]);

  smtp.up();
  for (let i = 0; i < 3 && (await outboxRow(env.deps, "outage@example.com")).status !== "sent"; i++) {
    env.clock.advance(HOUR);
    await mailer.idle();
  }
  expect(await outboxRow(env.deps, "outage@example.com")).toMatchObject({ status: "sent", lastError: null });
  expect(smtp.received.map((m) => [m.to, m.subject])).toEqual([[["outage@example.com"], "Reset your password"]]);

  // Later attempts or restarts of the runner never send it again.
  env.clock.advance(48 * HOUR);
  await mailer.idle();
  expect(smtp.received).toHaveLength(1);
}, 30_000);

test("a restart loses nothing: mail queued before the stop, and mail an older version left queued, go out after the start", async () => {
  const smtp = smtpDown();
  const dataDir = mkdtempSync(join(tmpdir(), "sc-mail-"));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = loadConfig({ DATA_DIR: dataDir, SMTP_URL: smtp.url, LOG_LEVEL: "error" });
  let now = Date.now();
  const clock = { now: () => now };
  const log = { debug() {}, info() {}, warn() {}, error() {} };

  const before = await buildDeps(config, { clock, log });
  await before.jobs.start();
  await before.mailer.send(message("restart@example.com", "Confirm your email"));
  await before.mailer.idle();
  expect(await outboxRow(before, "restart@example.com")).toMatchObject({ status: "queued", attempts: 1 });
  // What an older version (retries in memory, no job) left behind when it was stopped.
  await before.database.db
    .insert(mailOutbox)
    .values({ id: "legacy-mail", ...message("legacy@example.com", "Set your password"), status: "queued", attempts: 1, createdAt: now });
  await before.jobs.stop();
  await before.mailer.idle();
  await before.database.close();

  smtp.up();
  now += HOUR;
  const after = await buildDeps(config, { clock, log });
  cleanups.push(() => after.database.close());
  cleanups.push(() => after.jobs.stop());
  await after.jobs.start();
  await after.mailer.idle();
  expect(smtp.received.map((m) => m.to[0]).sort()).toEqual(["legacy@example.com", "restart@example.com"]);
  expect(await outboxRow(after, "restart@example.com")).toMatchObject({ status: "sent" });
  expect(await outboxRow(after, "legacy@example.com")).toMatchObject({ status: "sent" });

  // A third start finds nothing to do: the old row's job is keyed by its id.
  const again = await buildDeps(config, { clock, log });
  await again.jobs.start();
  now += HOUR;
  await again.mailer.idle();
  await again.jobs.stop();
  await again.database.close();
  expect(smtp.received).toHaveLength(2);
}, 30_000);

test("a message is marked failed only after its last attempt, more than a day after the first", async () => {
  const smtp = smtpDown();
  const env = await mailEnv(smtp);
  const { mailer } = env.deps;
  await mailer.send(message("never@example.com", "Unreachable"));
  await mailer.idle();
  const id = (await outboxRow(env.deps, "never@example.com")).id;
  for (let hours = 0; hours < 100; hours++) {
    const row = await outboxRow(env.deps, "never@example.com");
    if (row.status === "failed") break;
    expect(row.status).toBe("queued");
    expect(row.attempts).toBeLessThan(MAIL_MAX_ATTEMPTS);
    env.clock.advance(HOUR);
    await mailer.idle();
  }
  const failed = await outboxRow(env.deps, "never@example.com");
  expect(failed).toMatchObject({ status: "failed", attempts: MAIL_MAX_ATTEMPTS });
  expect(failed.lastError).toMatch(/ECONNREFUSED|connect/i);
  const [job] = await env.deps.database.db
    .select()
    .from(jobsTable)
    .where(eq(jobsTable.dedupeKey, `mail:${id}`));
  expect(job).toMatchObject({ status: "failed", attempts: MAIL_MAX_ATTEMPTS });
  expect(job!.finishedAt! - job!.createdAt).toBeGreaterThanOrEqual(24 * HOUR);
  expect(smtp.received).toEqual([]);
}, 60_000);

// The mailer with a fake SMTP transport that checks what a real server would (a sender, a recipient, a subject and
// bodies), failing when asked so that retries and the outbox status are exercised. Each mailer here has its own job
// runner on the test database. The real SMTP conversation, an outage, a restart and the final failure are in
// test/mail.test.ts.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { jobs as jobsTable, mailOutbox } from "../db/schema.ts";
import { backoffDelay, createJobQueue, type JobQueue } from "../jobs/queue.ts";
import { createTestEnv, type TestEnv } from "../../test/support/deps.ts";
import { createMailer, listMail, MAIL_BACKOFF, MAIL_MAX_ATTEMPTS, SEND_MAIL, type MailTransport } from "./mailer.ts";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

const queues: JobQueue[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.stop();
});

function fakeSmtp(failures: number) {
  const sent: Parameters<MailTransport["sendMail"]>[0][] = [];
  let calls = 0;
  const transport: MailTransport = {
    async sendMail(m) {
      calls++;
      if (!/^.+<[^@\s]+@[^@\s]+>$|^[^@\s]+@[^@\s]+$/.test(m.from)) throw new Error("553 sender address rejected");
      if (!/^[^@\s]+@[^@\s]+$/.test(m.to)) throw new Error("501 bad recipient");
      if (!m.subject || !m.text || !m.html) throw new Error("554 empty message");
      if (calls <= failures) throw new Error("421 service not available, try again later");
      sent.push(m);
      return { messageId: `<${calls}@fake>` };
    },
  };
  return { transport, sent, calls: () => calls };
}

/** A mailer with its own started job runner. */
async function mailerWith(transport: MailTransport | undefined, from = "no-reply@loops.example.com") {
  const jobs = createJobQueue(
    { database: env.deps.database, clock: env.clock, log: env.deps.log },
    { pollMs: 10, cleanup: { everyMs: 0, doneAfterMs: 1, failedAfterMs: 1 } },
  );
  queues.push(jobs);
  const mailer = createMailer({ database: env.deps.database, clock: env.clock, log: env.deps.log, jobs, from, ...(transport ? { transport } : {}) });
  await jobs.start();
  return { mailer, jobs };
}

const outboxRow = async (to: string) => (await env.deps.database.db.select().from(mailOutbox).where(eq(mailOutbox.to, to)))[0];
const jobOf = async (mailId: string) =>
  (
    await env.deps.database.db
      .select()
      .from(jobsTable)
      .where(eq(jobsTable.dedupeKey, `mail:${mailId}`))
  )[0];
const message = (to: string, subject = "Hello") => ({ to, subject, text: "Hi there", html: "<p>Hi there</p>" });

test("with SMTP the message is recorded, sent in the background, and marked sent", async () => {
  const smtp = fakeSmtp(0);
  const { mailer } = await mailerWith(smtp.transport, "Sidechain <no-reply@loops.example.com>");
  await mailer.send(message("a@example.com"));
  await mailer.idle();
  expect(smtp.sent).toHaveLength(1);
  expect(smtp.sent[0]!.from).toBe("Sidechain <no-reply@loops.example.com>");
  const row = await outboxRow("a@example.com");
  expect(row).toMatchObject({ status: "sent", attempts: 1, lastError: null });
  expect(await jobOf(row!.id)).toMatchObject({ type: SEND_MAIL, status: "done", maxAttempts: MAIL_MAX_ATTEMPTS });
});

test("a failed attempt keeps the message queued with its reason and tries again about a minute later", async () => {
  const flaky = fakeSmtp(1);
  const { mailer } = await mailerWith(flaky.transport);
  await mailer.send(message("b@example.com", "Retry me"));
  await mailer.idle();
  const waiting = await outboxRow("b@example.com");
  expect(waiting).toMatchObject({ status: "queued", attempts: 1 });
  expect(waiting!.lastError).toContain("421");
  const job = await jobOf(waiting!.id);
  expect(job).toMatchObject({ status: "queued", attempts: 1 });
  expect(job!.runAt - env.clock.now()).toBeWithin(0.8 * MAIL_BACKOFF.baseMs, 1.2 * MAIL_BACKOFF.baseMs + 1);
  expect(flaky.sent).toHaveLength(0);

  env.clock.advance(2 * MAIL_BACKOFF.baseMs);
  await mailer.idle();
  expect(await outboxRow("b@example.com")).toMatchObject({ status: "sent", attempts: 2, lastError: null });
  expect(flaky.sent).toHaveLength(1);
});

test("the retries are spread from a minute to an hour apart and last more than a day before the message fails", () => {
  const delays = (random: () => number) => Array.from({ length: MAIL_MAX_ATTEMPTS - 1 }, (_, i) => backoffDelay(i + 1, MAIL_BACKOFF, random));
  const shortest = delays(() => 0); // every delay at its lowest jitter
  const longest = delays(() => 1);
  expect(Math.min(...shortest)).toBeGreaterThanOrEqual(0.8 * 60_000);
  expect(Math.max(...longest)).toBeLessThanOrEqual(3_600_000);
  expect(shortest.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(24 * 3_600_000);
});

test("sent in the caller's transaction, the message and its job exist only if it commits", async () => {
  const smtp = fakeSmtp(0);
  const { mailer } = await mailerWith(smtp.transport);
  const { database } = env.deps;
  await expect(
    database.tx(async (tx) => {
      await mailer.send(message("rolled@example.com"), { tx });
      throw new Error("the account change failed");
    }),
  ).rejects.toThrow("the account change failed");
  // Inside a transaction without passing it: the same (the message joins the transaction the caller is in).
  await expect(
    database.tx(async () => {
      await mailer.send(message("rolled@example.com"));
      throw new Error("the account change failed");
    }),
  ).rejects.toThrow("the account change failed");
  await mailer.idle();
  expect(await outboxRow("rolled@example.com")).toBeUndefined();
  expect(await database.db.select().from(jobsTable).where(eq(jobsTable.type, SEND_MAIL))).not.toContainEqual(expect.objectContaining({ status: "queued" }));

  await database.tx((tx) => mailer.send(message("committed@example.com"), { tx }));
  await mailer.idle();
  expect(await outboxRow("committed@example.com")).toMatchObject({ status: "sent", attempts: 1 });
  expect(smtp.sent.map((m) => m.to)).toEqual(["committed@example.com"]);
});

test("an attempt runs once per message: a sent message is not sent again, a missing one fails its job at once", async () => {
  const smtp = fakeSmtp(0);
  const { mailer, jobs } = await mailerWith(smtp.transport);
  await mailer.send(message("once@example.com"));
  await mailer.idle();
  const row = await outboxRow("once@example.com");
  // A second job for the same message (a retry after a crash between sending and recording): nothing is sent.
  const again = await jobs.enqueue(SEND_MAIL, { mail_id: row!.id }, { dedupeKey: `again:${row!.id}` });
  expect(await jobs.waitFor(again.job.id, 10_000)).toMatchObject({ status: "done", result: { skipped: "already sent" } });
  expect(smtp.sent).toHaveLength(1);
  const missing = await jobs.enqueue(SEND_MAIL, { mail_id: "no-such-mail" }, { maxAttempts: MAIL_MAX_ATTEMPTS });
  expect(await jobs.waitFor(missing.job.id, 10_000)).toMatchObject({ status: "failed", attempts: 1 });
});

test("an attempt cut by a shutdown is given back without touching the message", async () => {
  let started!: () => void;
  const inside = new Promise<void>((r) => (started = r));
  const hanging: MailTransport = {
    sendMail: () => {
      started();
      return new Promise(() => undefined); // an SMTP server that never answers
    },
  };
  const { mailer, jobs } = await mailerWith(hanging);
  await mailer.send(message("hang@example.com"));
  await inside;
  await jobs.stop();
  await mailer.idle();
  const row = await outboxRow("hang@example.com");
  expect(row).toMatchObject({ status: "queued", attempts: 0, lastError: null });
  expect(await jobOf(row!.id)).toMatchObject({ status: "queued" });
  // Out of the way of the next tests' runners.
  await env.deps.database.db
    .update(jobsTable)
    .set({ status: "failed" })
    .where(eq(jobsTable.dedupeKey, `mail:${row!.id}`));
});

test("without SMTP the message stays in the outbox for `sidechain mail list`, with no job", async () => {
  const { mailer } = await mailerWith(undefined, "no-reply@localhost");
  await mailer.send(message("d@example.com", "Kept"));
  await mailer.idle();
  const newest = await listMail(env.deps.database, 1);
  expect(newest[0]).toMatchObject({ to: "d@example.com", status: "kept" });
  expect(await jobOf(newest[0]!.id)).toBeUndefined();
});

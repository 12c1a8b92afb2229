// The mailer with a fake SMTP transport that checks what a real server would (a sender, a recipient, a subject and
// bodies), failing when asked so that retries and the outbox status are exercised.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { mailOutbox } from "../db/schema.ts";
import { createTestEnv, type TestEnv } from "../../test/support/deps.ts";
import { createMailer, listMail, type MailTransport } from "./mailer.ts";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

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

test("with SMTP the message is recorded, sent in the background, and marked sent", async () => {
  const smtp = fakeSmtp(0);
  const mailer = createMailer({ database: env.deps.database, clock: env.clock, log: env.deps.log, from: "Sidechain <no-reply@loops.example.com>", transport: smtp.transport });
  await mailer.send({ to: "a@example.com", subject: "Hello", text: "Hi there", html: "<p>Hi there</p>" });
  await mailer.idle();
  expect(smtp.sent).toHaveLength(1);
  expect(smtp.sent[0]!.from).toBe("Sidechain <no-reply@loops.example.com>");
  const [row] = await env.deps.database.db.select().from(mailOutbox).where(eq(mailOutbox.to, "a@example.com"));
  expect(row).toMatchObject({ status: "sent", attempts: 1, lastError: null });
});

test("a failing SMTP server is retried, and after three failures the message is marked failed with the reason", async () => {
  const flaky = fakeSmtp(1);
  const mailer = createMailer({ database: env.deps.database, clock: env.clock, log: env.deps.log, from: "no-reply@loops.example.com", transport: flaky.transport });
  await mailer.send({ to: "b@example.com", subject: "Retry me", text: "x", html: "<p>x</p>" });
  await mailer.idle();
  const [ok] = await env.deps.database.db.select().from(mailOutbox).where(eq(mailOutbox.to, "b@example.com"));
  expect(ok).toMatchObject({ status: "sent", attempts: 2 });

  const down = fakeSmtp(99);
  const broken = createMailer({ database: env.deps.database, clock: env.clock, log: env.deps.log, from: "no-reply@loops.example.com", transport: down.transport });
  await broken.send({ to: "c@example.com", subject: "Lost", text: "x", html: "<p>x</p>" });
  await broken.idle();
  const [failed] = await env.deps.database.db.select().from(mailOutbox).where(eq(mailOutbox.to, "c@example.com"));
  expect(failed).toMatchObject({ status: "failed", attempts: 3 });
  expect(failed!.lastError).toContain("421");
  expect(down.calls()).toBe(3);
}, 20_000);

test("without SMTP the message stays in the outbox for `sidechain mail list`", async () => {
  const mailer = createMailer({ database: env.deps.database, clock: env.clock, log: env.deps.log, from: "no-reply@localhost" });
  await mailer.send({ to: "d@example.com", subject: "Kept", text: "link", html: "<p>link</p>" });
  const newest = await listMail(env.deps.database, 1);
  expect(newest[0]).toMatchObject({ to: "d@example.com", status: "kept" });
});

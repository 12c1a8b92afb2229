// Mail. Every message is first written to the mail_outbox table (so a self-hoster without SMTP can still read a
// reset link with `sidechain mail list`). With SMTP_URL set, the same transaction writes a `send-mail` job of the
// durable queue (src/jobs/queue.ts): requests never wait for delivery, and an SMTP outage or a restart loses nothing.
// The job retries with backoff from a minute up to an hour apart for more than a day (MAIL_MAX_ATTEMPTS) before the
// message is marked failed; any instance may deliver it (docs/architecture.md, Mail).
//
// Delivery is at least once: a crash between the SMTP server's "250 queued" and our "sent" write sends the message
// again on the next attempt. A message already marked sent is never sent again.
import { desc, eq } from "drizzle-orm";
import nodemailer from "nodemailer";
import type { Database, Db } from "../db/client.ts";
import { mailOutbox } from "../db/schema.ts";
import type { Clock, Logger } from "../lib/types.ts";
import { childLogger, errorFields, errorMessage } from "../log.ts";
import { JobLeaseLostError, JobShutdownError, PermanentJobError, type BackoffOptions, type JobInfo, type JobQueue } from "../jobs/queue.ts";
import { newId } from "../lib/crypto.ts";

export type MailMessage = { to: string; subject: string; text: string; html: string };
export type Mailer = {
  /**
   * Records the message (and, with SMTP, its delivery job); resolves once recorded, not once delivered. With `tx`
   * both are written in the caller's transaction (they exist only if it commits); otherwise in one of their own.
   */
  send(message: MailMessage, opts?: { tx?: Db }): Promise<void>;
  /**
   * Resolves when no delivery attempt runs on this instance and, while its job runner runs, no message is due for
   * one (each is sent, failed, or waiting for its next attempt). For tests and a graceful stop.
   */
  idle(): Promise<void>;
};
export type MailTransport = { sendMail(m: { from: string; to: string; subject: string; text: string; html: string }): Promise<unknown> };

/** The job type of one message's delivery; its payload is `{ mail_id }`. */
export const SEND_MAIL = "send-mail";
/** Attempts from a minute apart, doubling up to an hour apart. */
export const MAIL_BACKOFF: BackoffOptions = { baseMs: 60_000, maxMs: 3_600_000, jitter: 0.2 };
/** With MAIL_BACKOFF, the last attempt comes more than 24 h after the first even when every delay is at its shortest. */
export const MAIL_MAX_ATTEMPTS = 36;
/** One attempt (connect, greeting, sending) may take this long; nodemailer's own timeouts stay below it. */
const ATTEMPT_TIMEOUT_MS = 180_000;
const TRANSPORT_TIMEOUTS = { connectionTimeout: 30_000, greetingTimeout: 30_000, socketTimeout: 60_000 };

type MailPayload = { mail_id: string };
const dedupeKey = (mailId: string) => `mail:${mailId}`;

export function createMailer(opts: {
  database: Database;
  clock: Clock;
  log: Logger;
  jobs: JobQueue;
  from: string;
  smtpUrl?: string;
  /** Injected in tests; built from SMTP_URL otherwise. */
  transport?: MailTransport;
}): Mailer & { requeue(): Promise<number> } {
  const { database, clock, log, jobs } = opts;
  const transport = opts.transport ?? (opts.smtpUrl ? nodemailer.createTransport({ url: opts.smtpUrl, ...TRANSPORT_TIMEOUTS }) : undefined);
  const inflight = new Set<Promise<unknown>>();
  const { db } = database;

  const enqueue = (mailId: string, tx?: Db) =>
    jobs.enqueue(SEND_MAIL, { mail_id: mailId } satisfies MailPayload, { dedupeKey: dedupeKey(mailId), maxAttempts: MAIL_MAX_ATTEMPTS, ...(tx ? { tx } : {}) });

  async function attempt(job: JobInfo<MailPayload>, signal: AbortSignal) {
    const id = job.payload.mail_id;
    const [m] = await db.select().from(mailOutbox).where(eq(mailOutbox.id, id));
    if (!m) throw new PermanentJobError(`mail ${id} is not in the outbox`);
    if (m.status === "sent") return { skipped: "already sent" };
    const mlog = childLogger(log, { mail_id: id, attempt: job.attempt });
    try {
      await abortable(transport!.sendMail({ from: opts.from, to: m.to, subject: m.subject, text: m.text, html: m.html }), signal);
    } catch (err) {
      // Given back at shutdown or taken over by another worker: that attempt is not ours to record.
      if (err instanceof JobShutdownError || err instanceof JobLeaseLostError) throw err;
      const last = job.attempt >= job.maxAttempts;
      await db
        .update(mailOutbox)
        .set({ status: last ? "failed" : "queued", attempts: job.attempt, lastError: errorMessage(err) })
        .where(eq(mailOutbox.id, id));
      if (last) mlog.error("mail delivery failed for good", errorFields(err));
      else mlog.warn("mail delivery failed; will retry", errorFields(err));
      throw err;
    }
    await db.update(mailOutbox).set({ status: "sent", attempts: job.attempt, sentAt: clock.now(), lastError: null }).where(eq(mailOutbox.id, id));
    mlog.info("mail sent");
    return { sent: true };
  }

  if (transport) {
    jobs.register<MailPayload>(
      SEND_MAIL,
      (job, ctx) => {
        const p = attempt(job, ctx.signal);
        const tracked = p.catch(() => undefined).finally(() => inflight.delete(tracked));
        inflight.add(tracked);
        return p;
      },
      { backoff: MAIL_BACKOFF, timeoutMs: ATTEMPT_TIMEOUT_MS, concurrency: 4 },
    );
  }

  return {
    async send(m, { tx } = {}) {
      const id = newId();
      const record = async (into: Db) => {
        await into.insert(mailOutbox).values({ id, ...m, status: transport ? "queued" : "kept", createdAt: clock.now() });
        if (transport) await enqueue(id, into);
      };
      if (tx) await record(tx);
      else if (transport) await database.tx(record);
      else await record(db);
      // The job's runner looks at once after the commit (not before: it would not see the job yet on libSQL).
      if (transport) database.afterCommit(() => jobs.wake());
      // The log names the message, not its body: bodies carry one-time links.
      log.info(transport ? "mail queued" : "mail kept in outbox (no SMTP_URL); read it with `sidechain mail list`", {
        mail_id: id,
        to: m.to,
        subject: m.subject,
      });
    },

    async idle() {
      for (;;) {
        await Promise.all([...inflight]);
        if (!transport || !jobs.started || !(await jobs.anyDue(SEND_MAIL))) {
          if (!inflight.size) return;
          continue;
        }
        jobs.wake();
        await Bun.sleep(5);
      }
    },

    /**
     * Gives a delivery job to every message still `queued` without one (left by a version that retried in memory).
     * Idempotent: the job's dedupe key is the message id. Returns how many jobs it wrote.
     */
    async requeue() {
      if (!transport) return 0;
      let created = 0;
      for (const { id } of await db.select({ id: mailOutbox.id }).from(mailOutbox).where(eq(mailOutbox.status, "queued"))) {
        if ((await enqueue(id)).created) created++;
      }
      if (created) log.info("queued mail given a delivery job", { count: created });
      return created;
    },
  };
}

/** Settles with `p`, or rejects with the signal's reason once it is aborted (the send itself may go on detached). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** The newest messages, for `sidechain mail list`. */
export async function listMail(database: Database, limit = 20) {
  return database.db.select().from(mailOutbox).orderBy(desc(mailOutbox.createdAt)).limit(limit);
}

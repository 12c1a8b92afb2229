// Mail. Every message is first written to the mail_outbox table (so a self-hoster without SMTP can still read a
// reset link with `sidechain mail list`, and so nothing is lost if SMTP is down). With SMTP_URL set it is then
// delivered through nodemailer in the background: requests never wait for delivery.
import { desc, eq } from "drizzle-orm";
import nodemailer from "nodemailer";
import type { Database } from "../db/client.ts";
import { mailOutbox } from "../db/schema.ts";
import type { Clock, Logger } from "../deps.ts";
import { newId } from "../lib/crypto.ts";

export type MailMessage = { to: string; subject: string; text: string; html: string };
export type Mailer = {
  /** Records the message and starts delivery; resolves once recorded, not once delivered. */
  send(message: MailMessage): Promise<void>;
  /** Resolves when every delivery started so far has finished (tests, graceful stop). */
  idle(): Promise<void>;
};
export type MailTransport = { sendMail(m: { from: string; to: string; subject: string; text: string; html: string }): Promise<unknown> };

export function createMailer(opts: {
  database: Database;
  clock: Clock;
  log: Logger;
  from: string;
  smtpUrl?: string;
  /** Injected in tests; built from SMTP_URL otherwise. */
  transport?: MailTransport;
}): Mailer {
  const transport = opts.transport ?? (opts.smtpUrl ? nodemailer.createTransport(opts.smtpUrl) : undefined);
  const inflight = new Set<Promise<void>>();
  const { db } = opts.database;

  async function deliver(id: string, m: MailMessage) {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await transport!.sendMail({ from: opts.from, ...m });
        await db.update(mailOutbox).set({ status: "sent", attempts: attempt, sentAt: opts.clock.now(), lastError: null }).where(eq(mailOutbox.id, id));
        return;
      } catch (err) {
        const reason = String((err as Error)?.message ?? err);
        await db.update(mailOutbox).set({ status: attempt === 3 ? "failed" : "queued", attempts: attempt, lastError: reason }).where(eq(mailOutbox.id, id));
        opts.log.warn("mail delivery failed", { mail_id: id, attempt, reason });
        if (attempt < 3) await Bun.sleep(500 * 2 ** attempt);
      }
    }
  }

  return {
    async send(m) {
      const id = newId();
      await db.insert(mailOutbox).values({ id, ...m, status: transport ? "queued" : "kept", createdAt: opts.clock.now() });
      // The log names the message, not its body: bodies carry one-time links.
      opts.log.info(transport ? "mail queued" : "mail kept in outbox (no SMTP_URL); read it with `sidechain mail list`", {
        mail_id: id,
        to: m.to,
        subject: m.subject,
      });
      if (!transport) return;
      const p = deliver(id, m).finally(() => inflight.delete(p));
      inflight.add(p);
    },
    async idle() {
      await Promise.all([...inflight]);
    },
  };
}

/** The newest messages, for `sidechain mail list`. */
export async function listMail(database: Database, limit = 20) {
  return database.db.select().from(mailOutbox).orderBy(desc(mailOutbox.createdAt)).limit(limit);
}

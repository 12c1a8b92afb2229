// The account emails, and the hourly budget of mail to one address. Links are built from PUBLIC_URL, never from
// the request's Host header.
import type { Deps } from "../deps.ts";
import { ApiError } from "../http/errors.ts";
import type { WindowLimiter } from "../http/rate-limit.ts";
import type { MailMessage } from "../integrations/mailer.ts";
import { normalizeEmail } from "../lib/text.ts";

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

type Link = { url: string; label: string };
/** A mail: paragraphs, then a link, then more paragraphs and a link (each part optional). */
type Part = { lines: string[]; link?: Link };

export function message(to: string, subject: string, lines: string[], link?: Link, more: Part[] = []): MailMessage {
  const parts = [{ lines, link }, ...more];
  const text = [
    ...parts.flatMap((p, i) => [...(i ? [""] : []), ...p.lines, ...(p.link ? ["", `${p.link.label}: ${p.link.url}`] : [])]),
    "",
    "— Sidechain",
  ].join("\n");
  const html =
    `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;max-width:36em">` +
    parts
      .map(
        (p) =>
          p.lines.map((l) => `<p>${esc(l)}</p>`).join("") +
          (p.link ? `<p><a href="${esc(p.link.url)}">${esc(p.link.label)}</a></p><p style="color:#666;font-size:small">${esc(p.link.url)}</p>` : ""),
      )
      .join("") +
    `<p>— Sidechain</p></body></html>`;
  return { to, subject, text, html };
}

// ── The per-address budget: RATE_LIMIT_MAIL_PER_HOUR mails to one address per hour, whatever sends them (password
// reset, verification, "someone tried to register"), so no one can bomb an inbox through any of them.

/** The budget's limiter, built once per process (deps.mailBudget, src/index.ts). */
export const createMailBudget = (limits: Deps["limits"], config: Pick<Deps["config"], "RATE_LIMIT_MAIL_PER_HOUR">): WindowLimiter =>
  limits.window({ name: "auth-mail", limit: config.RATE_LIMIT_MAIL_PER_HOUR, windowMs: 3600_000 });

/** Counts one mail to `address`; 429 (thrown) when its hourly budget is spent. */
export function spendMailBudget(deps: Deps, address: string): Promise<void> {
  return deps.mailBudget.hit(`to:${normalizeEmail(address)}`);
}

/** spendMailBudget for a caller whose answer must not change: true when the mail may go, false when spent. */
export async function mailBudgetAllows(deps: Deps, address: string): Promise<boolean> {
  try {
    await spendMailBudget(deps, address);
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 429) return false;
    throw err;
  }
}

const link = (publicUrl: string, path: string, token: string) => `${publicUrl}${path}?token=${encodeURIComponent(token)}`;

export const mails = {
  /** With a one-click way out for whoever did not create the account (docs/security.md, Pre-hijacking). */
  verifyEmail: (publicUrl: string, to: string, username: string, token: string, disownToken: string) =>
    message(
      to,
      "Confirm your email for Sidechain",
      [
        `Hi ${username}, please confirm that this is your email address. You will need the password you chose when you created the account.`,
        "The link works for 24 hours.",
      ],
      { url: link(publicUrl, "/verify-email", token), label: "Confirm my email" },
      [
        {
          lines: [
            `If you did not create this account, someone else typed your address. Remove your address from the account ` +
              `"${username}" with the link below: the account loses its password and every device signed in to it is signed out. ` +
              `Nothing else is needed; the link works for 7 days.`,
          ],
          link: { url: link(publicUrl, "/not-my-account", disownToken), label: "This was not me" },
        },
      ],
    ),
  resetPassword: (publicUrl: string, to: string, token: string) =>
    message(
      to,
      "Reset your Sidechain password",
      ["Someone asked to reset the password of your Sidechain account.", "If it was not you, ignore this email. The link works for 30 minutes."],
      {
        url: link(publicUrl, "/reset-password", token),
        label: "Choose a new password",
      },
    ),
  /** L5: someone tried to register with this email. Carries a set-password link when the account has none. */
  registrationAttempt: (publicUrl: string, to: string, username: string, setPasswordToken: string | null, providers: string[]) =>
    message(
      to,
      "Someone tried to create a Sidechain account with your email",
      [
        `Someone tried to register a new Sidechain account with this email address, which already belongs to your account "${username}". Nothing was changed.`,
        providers.length ? `You sign in with: ${providers.join(", ")}.` : "You sign in with your password.",
        ...(setPasswordToken ? ["If it was you and you want to sign in with a password too, set one with the link below (it works once, for 24 hours)."] : []),
      ],
      setPasswordToken ? { url: link(publicUrl, "/set-password", setPasswordToken), label: "Set a password" } : undefined,
    ),
  setPassword: (publicUrl: string, to: string, token: string) =>
    message(
      to,
      "Set a password for your Sidechain account",
      ["You asked to sign in with a password. Your account has none yet: set one with the link below.", "The link works once, for 24 hours."],
      {
        url: link(publicUrl, "/set-password", token),
        label: "Set a password",
      },
    ),
  /** L7: the owner hears about every credential or identity change. */
  securityChange: (to: string, what: string) =>
    message(to, `Sidechain security notice: ${what}`, [
      `This is a notice that on your Sidechain account: ${what}.`,
      "Other devices were signed out. If this was not you, reset your password at once.",
    ]),
};

// The account emails. Links are built from PUBLIC_URL, never from the request's Host header.
import type { MailMessage } from "../integrations/mailer.ts";

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function message(to: string, subject: string, lines: string[], link?: { url: string; label: string }): MailMessage {
  const text = [...lines, ...(link ? ["", `${link.label}: ${link.url}`] : []), "", "— Sidechain"].join("\n");
  const html =
    `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;max-width:36em">` +
    lines.map((l) => `<p>${esc(l)}</p>`).join("") +
    (link ? `<p><a href="${esc(link.url)}">${esc(link.label)}</a></p><p style="color:#666;font-size:small">${esc(link.url)}</p>` : "") +
    `<p>— Sidechain</p></body></html>`;
  return { to, subject, text, html };
}

const link = (publicUrl: string, path: string, token: string) => `${publicUrl}${path}?token=${encodeURIComponent(token)}`;

export const mails = {
  verifyEmail: (publicUrl: string, to: string, username: string, token: string) =>
    message(to, "Confirm your email for Sidechain", [`Hi ${username}, please confirm that this is your email address.`, "The link works for 24 hours."], {
      url: link(publicUrl, "/verify-email", token),
      label: "Confirm my email",
    }),
  resetPassword: (publicUrl: string, to: string, token: string) =>
    message(to, "Reset your Sidechain password", ["Someone asked to reset the password of your Sidechain account.", "If it was not you, ignore this email. The link works for 30 minutes."], {
      url: link(publicUrl, "/reset-password", token),
      label: "Choose a new password",
    }),
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
    message(to, "Set a password for your Sidechain account", ["You asked to sign in with a password. Your account has none yet: set one with the link below.", "The link works once, for 24 hours."], {
      url: link(publicUrl, "/set-password", token),
      label: "Set a password",
    }),
  /** L7: the owner hears about every credential or identity change. */
  securityChange: (to: string, what: string) =>
    message(to, `Sidechain security notice: ${what}`, [
      `This is a notice that on your Sidechain account: ${what}.`,
      "Other devices were signed out. If this was not you, reset your password at once.",
    ]),
};

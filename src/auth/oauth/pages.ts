// The browser pages of the Google/Discord flows (shared layout: strict CSP, no-referrer, no external assets).
import { csrfField, esc, type Instance, page as framePage, type PageOptions } from "../../web/layout.ts";

/** The pages, in the frame of the instance they belong to (its name in the header and titles). */
export const oauthPages = (instance: Instance) => {
  const page = (opts: PageOptions) => framePage({ ...opts, instance });

  /** "Sign in to the Sidechain plugin as <username>?": the plugin's session is only approved by this form's POST. */
  function pluginConfirmPage(opts: {
    action: string;
    providerLabel: string;
    username: string;
    displayName: string;
    ticket: string;
    csrf: string;
    headers?: Record<string, string>;
  }) {
    const who =
      opts.displayName && opts.displayName !== opts.username
        ? `${esc(opts.displayName)} (<strong>${esc(opts.username)}</strong>)`
        : `<strong>${esc(opts.username)}</strong>`;
    return page({
      title: "Sign in to the Sidechain plugin",
      headers: opts.headers,
      body: `<h1>Sign in to the Sidechain plugin as ${esc(opts.username)}?</h1>
<p>You signed in with ${esc(opts.providerLabel)} as ${who}. A Sidechain plugin asked to sign in with this account.</p>
<p>Only continue if you just started the sign-in from the plugin yourself.</p>
<form method="post" action="${esc(opts.action)}">${csrfField(opts.csrf)}<input type="hidden" name="ticket" value="${esc(opts.ticket)}">
<button type="submit" name="decision" value="approve">Sign in to the plugin</button>
<button type="submit" name="decision" value="deny" class="secondary">Cancel</button></form>`,
    });
  }

  const pluginDonePage = (username: string) =>
    page({
      title: "Signed in",
      body:
        `<h1 class="ok">Signed in to the Sidechain plugin</h1><p>The plugin is now signed in as ` +
        `<strong>${esc(username)}</strong>. You can close this tab.</p>`,
    });

  const pluginCancelledPage = () =>
    page({ title: "Sign-in cancelled", body: `<h1>Sign-in cancelled</h1><p>The plugin was not signed in. You can close this tab.</p>` });

  const linkedPage = (providerLabel: string, username: string, created: boolean) =>
    page({
      title: `${providerLabel} linked`,
      body:
        `<h1 class="ok">${esc(providerLabel)} is linked</h1><p>You can sign in to <strong>${esc(username)}</strong> with ` +
        `${esc(providerLabel)}.${created ? " Your other devices were signed out." : ""} You can close this tab.</p>`,
    });

  const oauthErrorPage = (title: string, message: string, status = 400, headers?: Record<string, string>) =>
    page({ title, status, headers, body: `<h1 class="error">${esc(title)}</h1><p>${esc(message)}</p><p>You can close this tab and start again.</p>` });
  return { pluginConfirmPage, pluginDonePage, pluginCancelledPage, linkedPage, oauthErrorPage };
};

// The browser pages the mail links and sign-in flows land on, served at the root (not under /api/v1):
//   /signin, /signout                    a plain password sign-in that starts a browser session (auth/browser-session.ts)
//   /reset-password, /set-password      ?token= from the mails: choose a password
//   /verify-email                        ?token=: a confirm form (GET never redeems: mail scanners prefetch links)
//   /not-my-account                      ?token=: "this was not me" from the same mail, one confirm button
//   /device                              RFC 8628: enter (or receive via ?code=) a user code, then approve or deny
// Every page comes from page() (the web app's frame without its script, strict CSP, Referrer-Policy: no-referrer), every
// POST carries the double-submit CSRF token, and expected failures are pages too (never JSON). Hidden from the
// OpenAPI document: these are not API.
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { withCookies } from "../http/cookies.ts";
import { ApiError } from "../http/errors.ts";
import { safeRedirectPath } from "../http/redirect.ts";
import { membersOnlyIntro } from "./sign-in-to-view.ts";
import { endBrowserSession, readBrowserSession, signInPath, startBrowserSession, clearBrowserSessionCookie } from "../auth/browser-session.ts";
import { decideDeviceAuthorization, findPendingDevice, normalizeUserCode, type PendingDevice } from "../auth/device.ts";
import type { Auth } from "../auth/guard.ts";
import { checkLoginWithBackoff } from "../auth/limits.ts";
import { getProvider, PROVIDER_LABEL, PROVIDERS } from "../auth/oauth/providers.ts";
import { isOneTimeTokenLive } from "../auth/one-time.ts";
import * as service from "../auth/service.ts";
import { disownAccount } from "../auth/identity.ts";
import type { UserRow } from "../users/service.ts";
import { csrfField, csrfFor, csrfOk, esc, type Instance, page } from "./layout.ts";
import { asForm, formText } from "./context.ts";
import { HIDDEN } from "./html.ts";

const str = formText;

/** A 303 to a path on this server. Every page redirect passes the one guard (src/http/redirect.ts), whatever built it. */
function redirect(location: string, cookies: (string | undefined)[] = []): Response {
  const safe = safeRedirectPath(location) ?? "/signin";
  return withCookies(new Response(null, { status: 303, headers: { location: safe, "cache-control": "no-store", "referrer-policy": "no-referrer" } }), cookies);
}

const alert = (message?: string) => (message ? `<p class="error" role="alert">${esc(message)}</p>` : "");
const link = (href: string, label: string) => `<p><a class="button" href="${esc(href)}">${esc(label)}</a></p>`;

function messageIn(
  instance: Instance,
  title: string,
  text: string,
  opts: { status?: number; ok?: boolean; extra?: string; cookies?: (string | undefined)[]; headers?: Record<string, string> } = {},
): Response {
  const body =
    `<h1>${esc(title)}</h1><p class="${opts.ok ? "ok" : opts.status && opts.status >= 400 ? "error" : ""}" ` +
    `role="status">${esc(text)}</p>${opts.extra ?? ""}`;
  return withCookies(page({ title, body, status: opts.status, headers: opts.headers, instance }), opts.cookies ?? []);
}

export const webPages = (deps: Deps) => {
  const { config, clock } = deps;
  const instance: Instance = deps.caches.instance;
  const message = (title: string, text: string, opts?: Parameters<typeof messageIn>[3]) => messageIn(instance, title, text, opts);
  const trusted = parseTrustedProxies(config.TRUSTED_PROXIES);
  const ipOf = (request: Request) => clientIp(request, trusted);
  const clientOf = (request: Request) => ({ ip: ipOf(request), userAgent: request.headers.get("user-agent") ?? "" });

  // Rate limits, by name from the route table's (src/http/route-limits.ts), checked in the handlers (after the CSRF
  // check) because a limited page answers with a page, not JSON. The per-IP budgets ("login", "forgot", "verify")
  // and the login backoff are the API's, so the pages give no extra attempts; "device-verify" counts user-code
  // look-ups and decisions per IP and per signed-in user (RFC 8628 §5.1: codes are short, so guessing must be
  // throttled).
  const limitIp = (request: Request, name: "login" | "forgot" | "verify") => deps.routeLimits.hit(name, { ip: ipOf(request) });
  const limitDevice = (request: Request, auth: Auth) => deps.routeLimits.hit("device-verify", { ip: ipOf(request), userId: auth.user.id });

  /** A page with a form: the CSRF cookie is set (or reused) and its token is handed to `render`. */
  const formPage = (request: Request, title: string, render: (csrf: string) => string, status = 200, cookies: (string | undefined)[] = []) => {
    const csrf = csrfFor(request, config.PUBLIC_URL);
    return withCookies(page({ title, body: render(csrfField(csrf.token)), status, instance }), [csrf.setCookie, ...cookies]);
  };

  const csrfRefused = (request: Request, again: string) =>
    formPage(
      request,
      "Please try again",
      () =>
        `<h1>Please try again</h1><p class="error" role="alert">This form has expired or did not come from this site, so nothing ` +
        `was changed.</p>${link(again, "Start again")}`,
      403,
    );

  /** Expected failures (rate limits, refusals) thrown by services become pages, not JSON. */
  const failurePage = (err: ApiError, back = "/signin") => {
    if (err.status === 429) {
      const wait = err.headers?.["retry-after"] ?? "60";
      return message("Too many attempts", `Too many attempts from here. Wait ${wait} seconds, then try again.`, {
        status: 429,
        headers: { "retry-after": wait },
        extra: link(back, "Try again"),
      });
    }
    return message("Something is not right", err.message, { status: err.status, extra: link(back, "Back") });
  };
  const catching =
    <C extends { request: Request }>(handler: (ctx: C) => Promise<Response>, back?: (ctx: C) => string) =>
    async (ctx: C) => {
      try {
        return await handler(ctx);
      } catch (err) {
        if (err instanceof ApiError) return failurePage(err, back?.(ctx));
        throw err;
      }
    };

  // ── Page pieces ──

  const signInForm = (request: Request, opts: { next: string | null; login?: string; error?: string }, status = 200) =>
    formPage(
      request,
      "Sign in",
      (csrf) => `<h1>Sign in</h1>${membersOnlyIntro(deps.caches.instance)}${opts.next ? "<p>Sign in to continue.</p>" : ""}${alert(opts.error)}
<form method="post" action="/signin">${csrf}${opts.next ? `<input type="hidden" name="next" value="${esc(opts.next)}">` : ""}
<label for="login">Email or username</label><input id="login" name="login" autocomplete="username" autocapitalize="none" required maxlength="254"
value="${esc(opts.login ?? "")}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
<button type="submit">Sign in</button></form>${providerButtons(opts.next)}${registerLink(opts.next)}`,
      status,
    );

  /** Google and Discord sign-in, when configured: the web flow, coming back to `next` with a browser session. */
  const providerButtons = (next: string | null) =>
    PROVIDERS.filter((name) => getProvider(config, name))
      .map(
        (name) =>
          `<a class="button secondary" ` +
          `href="/api/v1/auth/${name}?redirect_to=${esc(encodeURIComponent(next ?? "/signin"))}">Continue with ${esc(PROVIDER_LABEL[name])}</a>`,
      )
      .join("");

  /** "Create an account" (web/register.tsx), while the server accepts new accounts. */
  const registerLink = (next: string | null) =>
    deps.caches.instance.registration === "open" || deps.caches.instance.registration === "approval"
      ? `<p class="alt">New here? <a href="${esc(next ? `/register?next=${encodeURIComponent(next)}` : "/register")}">Create an account</a></p>`
      : "";

  const signedIn = (request: Request, auth: Auth) =>
    formPage(
      request,
      "Signed in",
      (csrf) => `<h1>Signed in</h1><p>You are signed in as <strong>@${esc(auth.user.username)}</strong>.</p>
<form method="post" action="/signout">${csrf}<button type="submit" class="secondary">Sign out</button></form>`,
    );

  // ── Password links (reset and set) ──

  const passwordForm = (request: Request, path: string, title: string, token: string, error?: string, status = 200) =>
    formPage(
      request,
      title,
      (csrf) => `<h1>${esc(title)}</h1>${alert(error)}
<form method="post" action="${path}">${csrf}<input type="hidden" name="token" value="${esc(token)}">
<label for="password">New password</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="8"
maxlength="256">
<label for="password_confirm">New password again</label><input id="password_confirm" name="password_confirm" type="password"
autocomplete="new-password" required minlength="8" maxlength="256">
<p>At least 8 characters. A few unrelated words make a good one.</p>
<button type="submit">Save password</button></form>`,
      status,
    );

  const deadLink = (what: string) =>
    message("This link no longer works", `This ${what} link has expired, was already used, or was replaced by a newer one.`, {
      status: 400,
      extra: "<p>Ask for a new one with “Forgot password” in the Sidechain plugin, then use the newest email.</p>",
    });

  const passwordGet =
    (path: string, purpose: "reset_password" | "set_password", title: string) =>
    async ({ request, query }: { request: Request; query: Record<string, string | undefined> }) => {
      const token = str(query.token, 200);
      if (!(await isOneTimeTokenLive(deps, token, purpose))) return deadLink("password");
      return passwordForm(request, path, title, token);
    };

  const passwordPost = (path: string, purpose: "reset_password" | "set_password", title: string) =>
    catching(
      async ({ request, body }: { request: Request; body: unknown }) => {
        const form = asForm(body);
        const token = str(form.token, 200);
        if (!csrfOk(request, form)) return csrfRefused(request, `${path}?token=${encodeURIComponent(token)}`);
        await limitIp(request, "forgot"); // the same per-IP budget as the API's reset routes
        const password = str(form.password);
        if (password !== str(form.password_confirm)) return passwordForm(request, path, title, token, "The two passwords are not the same.", 400);
        try {
          await service.redeemPasswordToken(deps, deps.hasher, token, password, purpose);
        } catch (err) {
          // A refused password does not spend the link: show the form again with the reason.
          if (err instanceof ApiError && err.code === "validation_error") return passwordForm(request, path, title, token, err.message, 400);
          if (err instanceof ApiError && err.code === "invalid_token") return deadLink("password");
          throw err;
        }
        // Every session was signed out (L7), this browser's included.
        return message("Password saved", "Your new password is set. Every device was signed out: sign in again with the new password.", {
          ok: true,
          extra: link("/signin", "Sign in"),
          cookies: [clearBrowserSessionCookie(deps)],
        });
      },
      () => path,
    );

  return (
    new Elysia({ name: "web-pages" })
      // ── Password links from the mails ──
      .get("/reset-password", passwordGet("/reset-password", "reset_password", "Choose a new password"), HIDDEN)
      .post("/reset-password", passwordPost("/reset-password", "reset_password", "Choose a new password"), HIDDEN)
      .get("/set-password", passwordGet("/set-password", "set_password", "Set a password"), HIDDEN)
      .post("/set-password", passwordPost("/set-password", "set_password", "Set a password"), HIDDEN)

      // ── Sign-in and sign-out ──
      .get(
        "/signin",
        async ({ request, query }) => {
          const next = safeRedirectPath(query.next);
          const auth = await readBrowserSession(deps, request);
          if (auth) return next ? redirect(next) : signedIn(request, auth);
          return signInForm(request, { next });
        },
        HIDDEN,
      )
      .post(
        "/signin",
        catching(
          async ({ request, body }: { request: Request; body: unknown }) => {
            const form = asForm(body);
            const next = safeRedirectPath(form.next);
            if (!csrfOk(request, form)) return csrfRefused(request, next ? signInPath(next) : "/signin");
            await limitIp(request, "login"); // the same per-IP budget as POST /api/v1/auth/login
            const login = str(form.login, 254).trim();
            const password = str(form.password);
            if (!login || !password) return signInForm(request, { next, login, error: "Enter your email or username and your password." }, 400);
            const result = await checkLoginWithBackoff(deps, login, password, ipOf(request));
            // Same answer for an unknown account and a wrong password: no enumeration.
            if (!result.ok) return signInForm(request, { next, login, error: "Wrong email, username or password." }, 401);
            let cookie: string;
            try {
              cookie = await startBrowserSession(deps, request, result.user.id, clientOf(request));
            } catch (err) {
              // A suspended account or a sign-up waiting for approval: the password was right, and the person is told
              // why they cannot come in.
              if (err instanceof ApiError && (err.code === "account_suspended" || err.code === "approval_pending"))
                return signInForm(request, { next, login, error: err.message }, 403);
              throw err;
            }
            return redirect(next ?? "/signin", [cookie]);
          },
          ({ body }) => {
            const next = safeRedirectPath(asForm(body).next);
            return next ? signInPath(next) : "/signin";
          },
        ),
        HIDDEN,
      )
      .get(
        "/signout",
        async ({ request }) => {
          const auth = await readBrowserSession(deps, request);
          if (!auth) return message("Signed out", "You are not signed in on this browser.", { extra: link("/signin", "Sign in") });
          return signedIn(request, auth);
        },
        HIDDEN,
      )
      .post(
        "/signout",
        async ({ request, body }) => {
          if (!csrfOk(request, asForm(body))) return csrfRefused(request, "/signout");
          const cookie = await endBrowserSession(deps, request);
          return message("Signed out", "You are signed out on this browser.", { ok: true, extra: link("/signin", "Sign in"), cookies: [cookie] });
        },
        HIDDEN,
      )

      // ── Email verification: GET shows the form, only the POST redeems. Confirming an account that has a password
      // needs that password (docs/security.md, Pre-hijacking): a wrong one shows the form again, link unspent ──
      .get(
        "/verify-email",
        async ({ request, query }) => {
          const token = str(query.token, 200);
          const account = await service.accountOfLink(deps, token, "verify_email");
          if (!account) return deadVerifyLink();
          return verifyForm(request, token, account);
        },
        HIDDEN,
      )
      .post(
        "/verify-email",
        catching(
          async ({ request, body }: { request: Request; body: unknown }) => {
            const form = asForm(body);
            const token = str(form.token, 200);
            if (!csrfOk(request, form)) return csrfRefused(request, `/verify-email?token=${encodeURIComponent(token)}`);
            await limitIp(request, "verify");
            try {
              await service.verifyEmail(deps, deps.hasher, token, str(form.password));
            } catch (err) {
              if (err instanceof ApiError && err.code === "invalid_token") return deadVerifyLink();
              if (err instanceof ApiError && (err.code === "validation_error" || err.code === "invalid_credentials")) {
                const account = await service.accountOfLink(deps, token, "verify_email");
                return account ? verifyForm(request, token, account, err.message, err.status) : deadVerifyLink();
              }
              throw err;
            }
            // Verifying signs every session out (L7); the cookie goes with it.
            return message("Email confirmed", "Your email address is confirmed. Sign in again on your devices.", {
              ok: true,
              extra: link("/signin", "Sign in"),
              cookies: [clearBrowserSessionCookie(deps)],
            });
          },
          () => "/signin",
        ),
        HIDDEN,
      )

      // ── "This was not me" from the verification mail: GET asks, only the POST takes the address off the account ──
      .get(
        "/not-my-account",
        async ({ request, query }) => {
          const token = str(query.token, 200);
          const account = await service.accountOfLink(deps, token, "disown_account");
          if (!account || account.emailVerified) return deadDisownLink();
          return formPage(
            request,
            "Not your account?",
            (csrf) => `<h1>Not your account?</h1>
<p>Someone created the Sidechain account <strong>@${esc(account.username)}</strong> with your email address, which was never confirmed.</p>
<p>If it was not you, remove your address from it: the account loses its password, every device signed in to it is signed out, and it can never be
joined to your address. You will get no more mail about it.</p>
<p>If you did create it, do not: use “Confirm my email” in the same email instead.</p>
<form method="post" action="/not-my-account">${csrf}<input type="hidden" name="token" value="${esc(token)}"><button type="submit">Remove my address
from this account</button></form>`,
          );
        },
        HIDDEN,
      )
      .post(
        "/not-my-account",
        catching(
          async ({ request, body }: { request: Request; body: unknown }) => {
            const form = asForm(body);
            const token = str(form.token, 200);
            if (!csrfOk(request, form)) return csrfRefused(request, `/not-my-account?token=${encodeURIComponent(token)}`);
            await limitIp(request, "verify");
            const username = await disownAccount(deps, token);
            if (!username) return deadDisownLink();
            return message(
              "Your address was removed",
              `Your email address is no longer on the account @${username}, and no one can sign in to it with a password any more. You can close this tab.`,
              { ok: true },
            );
          },
          () => "/signin",
        ),
        HIDDEN,
      )

      // ── Device sign-in (RFC 8628): sign in first, enter the code, then an explicit Approve / Deny ──
      .get(
        "/device",
        catching(
          async ({ request, query }: { request: Request; query: Record<string, string | undefined> }) => {
            const raw = str(query.code, 40);
            const code = normalizeUserCode(raw);
            const auth = await readBrowserSession(deps, request);
            if (!auth) return redirect(signInPath(code ? `/device?code=${code}` : "/device"));
            if (!raw) return deviceForm(request, auth, {});
            return lookUp(request, auth, raw);
          },
          () => "/device",
        ),
        HIDDEN,
      )
      .post(
        "/device",
        catching(
          async ({ request, body }: { request: Request; body: unknown }) => {
            const form = asForm(body);
            const raw = str(form.code, 40);
            const auth = await readBrowserSession(deps, request);
            const code = normalizeUserCode(raw);
            if (!auth) return redirect(signInPath(code ? `/device?code=${code}` : "/device"));
            if (!csrfOk(request, form)) return csrfRefused(request, "/device");
            return lookUp(request, auth, raw);
          },
          () => "/device",
        ),
        HIDDEN,
      )
      .post(
        "/device/confirm",
        catching(
          async ({ request, body }: { request: Request; body: unknown }) => {
            const form = asForm(body);
            const code = normalizeUserCode(form.code);
            const auth = await readBrowserSession(deps, request);
            if (!auth) return redirect(signInPath(code ? `/device?code=${code}` : "/device"));
            if (!csrfOk(request, form)) return csrfRefused(request, code ? `/device?code=${code}` : "/device");
            const decision = form.decision;
            if (!code || (decision !== "approve" && decision !== "deny"))
              return deviceForm(request, auth, { error: "Enter the code shown on your device." }, 400);
            await limitDevice(request, auth);
            if (!(await decideDeviceAuthorization(deps, code, { userId: auth.user.id, authenticatedAt: auth.session.authenticatedAt }, decision))) {
              return message(
                "This code no longer works",
                "No sign-in is waiting for this code: it expired (codes last 10 minutes) or was already approved or denied. Start again on your device.",
                {
                  status: 400,
                  extra: link("/device", "Enter another code"),
                },
              );
            }
            if (decision === "deny") return message("Sign-in denied", "The device was not signed in. You can close this tab.", { ok: true });
            return message("Device signed in", `Your device is now signed in as @${auth.user.username}. You can close this tab and go back to it.`, {
              ok: true,
            });
          },
          () => "/device",
        ),
        HIDDEN,
      )
  );

  function deadVerifyLink() {
    return message("This link no longer works", "This confirmation link has expired, was already used, or was replaced by a newer one.", {
      status: 400,
      extra: "<p>Ask for a new one from the Sidechain plugin's account settings, then use the newest email.</p>",
    });
  }

  function deadDisownLink() {
    return message(
      "This link no longer works",
      "This link has expired or was already used, or the account's address was confirmed by the person who knows its password.",
      {
        status: 400,
      },
    );
  }

  function verifyForm(request: Request, token: string, account: UserRow, error?: string, status = 200) {
    return formPage(
      request,
      "Confirm your email",
      (csrf) =>
        `<h1>Confirm your email</h1><p>Confirm that this email address belongs to your Sidechain account ` +
        `<strong>@${esc(account.username)}</strong>.</p>${alert(error)}
<form method="post" action="/verify-email">${csrf}<input type="hidden" name="token" value="${esc(token)}">${
          account.passwordHash
            ? `<label for="password">The password you chose for this account</label><input id="password" name="password" ` +
              `type="password" autocomplete="current-password" required maxlength="1024">`
            : ""
        }<button type="submit">Confirm my email</button></form>
<p>Did not create this account? Use “This was not me” in the same email.</p>`,
      status,
    );
  }

  function deviceForm(request: Request, auth: Auth, opts: { value?: string; error?: string }, status = 200) {
    return formPage(
      request,
      "Connect a device",
      (csrf) => `<h1>Connect a device</h1><p>Enter the code your Sidechain plugin or app shows.</p>${alert(opts.error)}
<form method="post" action="/device">${csrf}
<label for="code">Code</label><input id="code" name="code" required maxlength="20" autocomplete="off" autocapitalize="characters" spellcheck="false"
placeholder="XXXX-XXXX" value="${esc(opts.value ?? "")}">
<button type="submit">Continue</button></form>
<p>Signed in as <strong>@${esc(auth.user.username)}</strong> · <a href="/signout">not you?</a></p>`,
      status,
    );
  }

  async function lookUp(request: Request, auth: Auth, raw: string) {
    const code = normalizeUserCode(raw);
    if (!code) return deviceForm(request, auth, { value: raw, error: "That is not a valid code: it has 8 letters, like WDJB-MJHT." }, 400);
    await limitDevice(request, auth);
    const pending = await findPendingDevice(deps, code);
    if (!pending) {
      return deviceForm(
        request,
        auth,
        { value: code, error: "No sign-in is waiting for this code. It may have expired (codes last 10 minutes) or been used already." },
        404,
      );
    }
    return deviceConfirm(request, auth, pending);
  }

  function deviceConfirm(request: Request, auth: Auth, pending: PendingDevice) {
    const minutes = Math.max(1, Math.ceil((pending.expiresAt - clock.now()) / 60_000));
    // The page names what approving does, so that a code someone else sent (device-code phishing) stands out.
    return formPage(
      request,
      "Sign in a device?",
      (csrf) => `<h1>Sign in a device?</h1>
<p>A device (the Sidechain plugin or another app) asks to sign in to your account <strong>@${esc(auth.user.username)}</strong>. Approving gives it
full access to your account until you sign it out.</p>
<p>Code: <code>${esc(pending.userCode)}</code></p>
<p>Approve only if your own device shows this same code right now. If someone sent you this code or link, deny. The code expires in ${minutes}
minute${minutes === 1 ? "" : "s"}.</p>
<form method="post" action="/device/confirm">${csrf}<input type="hidden" name="code" value="${esc(pending.userCode)}">
<button type="submit" name="decision" value="approve">Approve device sign-in</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button></form>
<p>Signed in as <strong>@${esc(auth.user.username)}</strong> · <a href="/signout">not you?</a></p>`,
    );
  }
};

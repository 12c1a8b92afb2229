// Creating an account from the browser (docs/architecture.md "Web app"): /register shows the form (and Google /
// Discord when configured, which create the account on first sign-in); its POST calls the API's registration
// service (auth/service.ts: the same rules, the same verification mail, the "register" rate limit per IP), which
// starts a browser session in the account's transaction, and lands on `next` or /. A refused registration shows
// the form again with the reasons and what was typed, never the password. The community's sign-up mode (README
// "Invites and approval"): closed shows a closed page; invite mode needs an invite link (/invite/CODE shows the
// community, who invited you, its rules and this form carrying the code); approval mode asks why you want to join
// and, once recorded, says the sign-up waits for the staff (no session until they approve).
import { Elysia } from "elysia";
import { adoptBrowserSession, readBrowserSession } from "../auth/browser-session.ts";
import { getProvider, PROVIDER_LABEL, PROVIDERS } from "../auth/oauth/providers.ts";
import { checkInvite } from "../auth/invites.ts";
import * as service from "../auth/service.ts";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { withCookies } from "../http/cookies.ts";
import { ApiError } from "../http/errors.ts";
import { safeRedirectPath } from "../http/redirect.ts";
import { seeOther, asForm, formText } from "./context.ts";
import { htmlResponder, HIDDEN } from "./html.ts";
import { csrfFor, csrfOk } from "./layout.ts";
import { Shell } from "./shell.tsx";

const str = formText;

type Entered = { email: string; username: string; display_name: string; note: string };
type View = {
  csrf: string;
  next: string | null;
  entered: Entered;
  error?: string;
  fields?: Record<string, string>;
  /** Registering through an invite link: its code and who made it. */
  invite?: { code: string; by: string };
};

type FieldProps = {
  name: string;
  label: string;
  type?: string;
  autocomplete: string;
  required?: boolean;
  minlength?: string;
  maxlength: string;
  value?: string;
  /** The service's message for this field, after a refused registration. */
  error?: string;
  hint?: string;
};

/** A labelled input with its hint and its error, both tied to it with aria-describedby. */
function Field(p: FieldProps): JSX.Element {
  const described = [p.error ? `${p.name}-error` : "", p.hint ? `${p.name}-hint` : ""].filter(Boolean).join(" ");
  return (
    <>
      <label for={p.name} safe>
        {p.label}
      </label>
      <input
        id={p.name}
        name={p.name}
        type={p.type ?? "text"}
        autocomplete={p.autocomplete}
        autocapitalize={p.type === "password" ? undefined : "none"}
        spellcheck="false"
        required={p.required}
        minlength={p.minlength}
        maxlength={p.maxlength}
        value={p.value}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={described || undefined}
      />
      {p.hint ? (
        <p class="muted" id={`${p.name}-hint`} safe>
          {p.hint}
        </p>
      ) : (
        ""
      )}
      {p.error ? (
        <p class="field-error" id={`${p.name}-error`} safe>
          {p.error}
        </p>
      ) : (
        ""
      )}
    </>
  ) as JSX.Element;
}

export const registerRoutes = (deps: Deps) => {
  const { config } = deps;
  const html = htmlResponder(deps);
  const instance = deps.caches.instance;
  const trusted = parseTrustedProxies(config.TRUSTED_PROXIES);
  const providers = () => PROVIDERS.filter((name) => getProvider(config, name));

  const frame = async (title: string, body: JSX.Element) =>
    await (
      <Shell title={title} instance={instance} viewer={null} path="/register" narrow>
        <section class="account card">{body as "safe"}</section>
      </Shell>
    );

  const closed = async () =>
    html(
      await frame(
        "Registration is closed",
        <>
          <h1>Registration is closed</h1>
          <p role="status">This server does not accept new accounts. If you already have one, sign in.</p>
          <a class="button" href="/signin">
            Sign in
          </a>
        </>,
      ),
      { status: 403, cache: "no-store" },
    );

  /** Invite mode without an invite: the form is not offered. */
  const inviteOnly = async () =>
    html(
      await frame(
        "By invitation only",
        <>
          <h1>By invitation only</h1>
          <p
            role="status"
            safe
          >{`${instance.name} accepts new accounts through invite links. Ask a member for one; if you already have an account, sign in.`}</p>
          <a class="button" href="/signin">
            Sign in
          </a>
        </>,
      ),
      { status: 403, cache: "no-store" },
    );

  /** An invite link that cannot be used: why, in words. */
  const badInvite = async (err: ApiError) =>
    html(
      await frame(
        "Invite link",
        <>
          <h1>This invite link cannot be used</h1>
          <p role="alert" safe>
            {err.message}
          </p>
          <a class="button secondary" href="/signin">
            Sign in
          </a>
        </>,
      ),
      { status: err.status, cache: "no-store" },
    );

  /** Approval mode, once the sign-up is recorded: no session, a mail when staff decide. */
  const waiting = async (username: string) =>
    html(
      await frame(
        "Waiting for approval",
        <>
          <h1>Thanks! Your sign-up is waiting</h1>
          <p role="status" safe>
            {`The staff of ${instance.name} review new accounts. You will get an email at the address you gave when they decide; ` +
              `then you can sign in as @${username}.`}
          </p>
        </>,
      ),
      { status: 202, cache: "no-store" },
    );

  const form = async (v: View, status = 200, cookies: (string | undefined)[] = []) => {
    const f = v.fields ?? {};
    const next = v.next ?? "/";
    const approval = instance.registration === "approval" && !v.invite;
    const inviteQuery = v.invite ? `&invite=${encodeURIComponent(v.invite.code)}` : "";
    const heading: string = v.invite ? `Join ${instance.name}` : "Create an account";
    const body = await frame(
      heading,
      <>
        <h1 safe>{heading}</h1>
        {v.invite ? <p safe>{`@${v.invite.by} invited you.`}</p> : ""}
        <p safe>{instance.description || `Share loops and follow producers on ${instance.name}.`}</p>
        {approval ? <p class="notice">The staff review new accounts: yours can be used once they approve it, and you will get an email.</p> : ""}
        {instance.rules && (v.invite || approval) ? (
          <details open>
            <summary>The community's rules</summary>
            <p class="rules" safe>
              {instance.rules}
            </p>
          </details>
        ) : (
          ""
        )}
        {v.error ? (
          <p class="error" role="alert" safe>
            {v.error}
          </p>
        ) : (
          ""
        )}
        <form method="post" action="/register">
          <input type="hidden" name="csrf" value={v.csrf} />
          {v.invite ? <input type="hidden" name="invite" value={v.invite.code} /> : ""}
          {v.next ? <input type="hidden" name="next" value={v.next} /> : ""}
          <Field name="email" label="Email" type="email" autocomplete="email" required maxlength="254" value={v.entered.email} error={f.email} />
          <Field
            name="username"
            label="Username"
            autocomplete="username"
            required
            minlength="3"
            maxlength="30"
            value={v.entered.username}
            error={f.username}
            hint="3 to 30 letters, digits, dots, dashes or underscores: your page is /@username."
          />
          <Field
            name="password"
            label="Password"
            type="password"
            autocomplete="new-password"
            required
            minlength="8"
            maxlength="256"
            error={f.password}
            hint="At least 8 characters. A few unrelated words make a good one."
          />
          <Field
            name="display_name"
            label="Display name (optional)"
            autocomplete="nickname"
            maxlength="60"
            value={v.entered.display_name}
            error={f.display_name}
          />
          {approval ? (
            <>
              <label for="note">Why do you want to join? (optional, shown to the staff)</label>
              <textarea id="note" name="note" maxlength="500" rows="3" aria-invalid={f.note ? "true" : undefined} safe>
                {v.entered.note}
              </textarea>
              {f.note ? (
                <p class="field-error" safe>
                  {f.note}
                </p>
              ) : (
                ""
              )}
            </>
          ) : (
            ""
          )}
          <button type="submit">{approval ? "Ask to join" : "Create account"}</button>
        </form>
        {providers().map((name) => (
          <a class="button secondary" href={`/api/v1/auth/${name}?redirect_to=${encodeURIComponent(next)}${inviteQuery}`}>
            Continue with <span safe>{PROVIDER_LABEL[name]}</span>
          </a>
        ))}
        <p class="alt">
          Already have an account? <a href={v.next ? `/signin?next=${encodeURIComponent(v.next)}` : "/signin"}>Sign in</a>
        </p>
      </>,
    );
    return withCookies(html(body, { status, cache: "no-store" }), cookies);
  };

  /** The invite behind a code, or the page that says why it cannot be used. */
  const inviteOf = async (request: Request, code: unknown): Promise<{ code: string; by: string } | Response> => {
    try {
      // Looking codes up is rate limited per IP (docs/security.md "Invite codes"), a 429 shown as this page.
      await deps.routeLimits.hit("invite-lookup", { ip: clientIp(request, trusted) });
      const inv = await checkInvite(deps, code);
      return { code: code as string, by: inv.creatorUsername };
    } catch (err) {
      if (err instanceof ApiError) return badInvite(err);
      throw err;
    }
  };

  const empty: Entered = { email: "", username: "", display_name: "", note: "" };

  return (
    new Elysia({ name: "web-register" })
      .get(
        "/register",
        async ({ request, query }) => {
          if (instance.registration === "closed") return closed();
          const code = typeof query.invite === "string" ? query.invite : undefined;
          if (instance.registration === "invite" && !code) return inviteOnly();
          const next = safeRedirectPath(query.next);
          if (await readBrowserSession(deps, request)) return seeOther(next ?? "/");
          const invite = code ? await inviteOf(request, code) : undefined;
          if (invite instanceof Response) return invite;
          const csrf = csrfFor(request, config.PUBLIC_URL);
          return form({ csrf: csrf.token, next, entered: empty, ...(invite ? { invite } : {}) }, 200, [csrf.setCookie]);
        },
        HIDDEN,
      )
      // An invite link (README "Invites and approval"): the community, who invited you, its rules and the form.
      .get(
        "/invite/:code",
        async ({ request, params }) => {
          if (instance.registration === "closed") return closed();
          const invite = await inviteOf(request, params.code);
          if (invite instanceof Response) return invite;
          if (await readBrowserSession(deps, request)) return seeOther("/");
          const csrf = csrfFor(request, config.PUBLIC_URL);
          return form({ csrf: csrf.token, next: null, entered: empty, invite }, 200, [csrf.setCookie]);
        },
        HIDDEN,
      )
      .post(
        "/register",
        async ({ request, body }) => {
          if (instance.registration === "closed") return closed();
          const f = asForm(body);
          const next = safeRedirectPath(f.next);
          const code = str(f.invite, 64) || undefined;
          if (instance.registration === "invite" && !code) return inviteOnly();
          const entered = { email: str(f.email, 254), username: str(f.username, 30), display_name: str(f.display_name, 60), note: str(f.note, 500) };
          const csrf = csrfFor(request, config.PUBLIC_URL);
          const invite = code ? await inviteOf(request, code) : undefined;
          if (invite instanceof Response) return invite;
          const again = (error: string, status: number, fields?: Record<string, string>) =>
            form({ csrf: csrf.token, next, entered, error, fields, ...(invite ? { invite } : {}) }, status, [csrf.setCookie]);
          if (!csrfOk(request, f)) return again("This form has expired or did not come from this site, so nothing was changed. Please try again.", 403);
          const ip = clientIp(request, trusted);
          try {
            await deps.routeLimits.hit("register", { ip }); // the same per-IP budget as POST /api/v1/auth/register
            const r = await service.register(
              deps,
              deps.hasher,
              { ...entered, password: str(f.password, 1024), ...(code ? { invite: code } : {}) },
              { ip, userAgent: request.headers.get("user-agent") ?? "" },
              { tokenType: "browser" },
            );
            if (r.status === "pending") return waiting(r.user.username);
            const cookie = await adoptBrowserSession(deps, request, r.auth);
            return withCookies(seeOther(next ?? "/"), [cookie]);
          } catch (err) {
            if (!(err instanceof ApiError)) throw err;
            if (err.code === "registration_closed") return closed();
            if (err.code === "invite_required") return inviteOnly();
            if (err.code.startsWith("invite_")) return badInvite(err);
            if (err.status === 429) {
              const wait = err.headers?.["retry-after"] ?? "60";
              const res = await again(`Too many attempts from here. Wait ${wait} seconds, then try again.`, 429);
              res.headers.set("retry-after", wait);
              return res;
            }
            return again(err.code === "validation_error" ? "Some fields need another look." : err.message, err.status, err.fields);
          }
        },
        HIDDEN,
      )
  );
};

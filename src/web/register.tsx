// Creating an account from the browser (docs/architecture.md "Web app"): /register shows the form (and Google /
// Discord when configured, which create the account on first sign-in); its POST calls the API's registration
// service (auth/service.ts: the same rules, the same verification mail, the "register" rate limit per IP), which
// starts a browser session in the account's transaction, and lands on `next` or /. A refused registration shows
// the form again with the reasons and what was typed, never the password. Registration closed (the community's settings): a closed page.
import { Elysia } from "elysia";
import { adoptBrowserSession, readBrowserSession } from "../auth/browser-session.ts";
import { getProvider, PROVIDER_LABEL, PROVIDERS } from "../auth/oauth/providers.ts";
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

type Entered = { email: string; username: string; display_name: string };
type View = { csrf: string; next: string | null; entered: Entered; error?: string; fields?: Record<string, string> };

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

  const form = async (v: View, status = 200, cookies: (string | undefined)[] = []) => {
    const f = v.fields ?? {};
    const next = v.next ?? "/";
    const body = await frame(
      "Create an account",
      <>
        <h1>Create an account</h1>
        <p safe>{`Share loops and follow producers on ${instance.name}.`}</p>
        {v.error ? (
          <p class="error" role="alert" safe>
            {v.error}
          </p>
        ) : (
          ""
        )}
        <form method="post" action="/register">
          <input type="hidden" name="csrf" value={v.csrf} />
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
          <button type="submit">Create account</button>
        </form>
        {providers().map((name) => (
          <a class="button secondary" href={`/api/v1/auth/${name}?redirect_to=${encodeURIComponent(next)}`}>
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

  return new Elysia({ name: "web-register" })
    .get(
      "/register",
      async ({ request, query }) => {
        if (instance.registration !== "open") return closed();
        const next = safeRedirectPath(query.next);
        if (await readBrowserSession(deps, request)) return seeOther(next ?? "/");
        const csrf = csrfFor(request, config.PUBLIC_URL);
        return form({ csrf: csrf.token, next, entered: { email: "", username: "", display_name: "" } }, 200, [csrf.setCookie]);
      },
      HIDDEN,
    )
    .post(
      "/register",
      async ({ request, body }) => {
        if (instance.registration !== "open") return closed();
        const f = asForm(body);
        const next = safeRedirectPath(f.next);
        const entered = { email: str(f.email, 254), username: str(f.username, 30), display_name: str(f.display_name, 60) };
        const csrf = csrfFor(request, config.PUBLIC_URL);
        const again = (error: string, status: number, fields?: Record<string, string>) =>
          form({ csrf: csrf.token, next, entered, error, fields }, status, [csrf.setCookie]);
        if (!csrfOk(request, f)) return again("This form has expired or did not come from this site, so nothing was changed. Please try again.", 403);
        const ip = clientIp(request, trusted);
        try {
          await deps.routeLimits.hit("register", { ip }); // the same per-IP budget as POST /api/v1/auth/register
          const auth = await service.register(
            deps,
            deps.hasher,
            { ...entered, password: str(f.password, 1024) },
            { ip, userAgent: request.headers.get("user-agent") ?? "" },
            { tokenType: "browser" },
          );
          const cookie = await adoptBrowserSession(deps, request, auth);
          return withCookies(seeOther(next ?? "/"), [cookie]);
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          if (err.code === "registration_closed") return closed();
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
    );
};

// /admin (README "Operating a community"): the staff's pages in the web app, each a plain form that works without
// JavaScript, every write a CSRF-checked POST through browserAction that calls the service the API and the command
// line call (src/admin/), so the same rules hold from every door:
//   /admin            counts: accounts, loops, open reports, jobs and mail by status, and the community's settings
//   /admin/users      accounts (search), with role, suspend, unsuspend, sign out everywhere and delete
//   /admin/reports    the open reports, oldest first, each closed by dismissing, removing the loop or suspending
//   /admin/signups, /admin/invites  sign-ups waiting for approval, and invite links (admin-signups.tsx)
//   /admin/settings   the community's settings (owners change them)
//   /admin/jobs       failed jobs with their error, and retry; /admin/mail the newest messages of the outbox
//   /admin/audit      what staff did, newest first
// Signed out: the sign-in page; a member: 403. The page says each form's outcome (?saved= / ?error=) after its 303.
import { count, eq, isNotNull, sql } from "drizzle-orm";
import { join } from "node:path";
import { databaseBytes, MEDIA_EVERY_MS, walk } from "../metrics/registry.ts";
import { byteSize } from "../lib/text.ts";
import { Elysia } from "elysia";
import { listAudit } from "../admin/audit.ts";
import { actorOf } from "../admin/audit.ts";
import { listReports, REPORT_ACTIONS, type ReportAction, resolveReport } from "../admin/reports.ts";
import { updateSettings } from "../admin/settings.ts";
import { deleteAccount, findAccount, listAccounts, revokeAccountSessions, setQuota, setRole, suspendAccount, unsuspendAccount } from "../admin/users.ts";
import { signInPath } from "../auth/browser-session.ts";
import type { Auth } from "../auth/guard.ts";
import { posts, reports, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { withCookies } from "../http/cookies.ts";
import { type ApiError, errors } from "../http/errors.ts";
import { listMail } from "../integrations/mailer.ts";
import { instanceSettings, type RegistrationMode, SETTING_KEYS, SETTING_RANGES, type Settings, settingsFromText } from "../system/settings.ts";
import { isStaff, type Role, roleOf, ROLES, type UserRow } from "../users/service.ts";
import { asForm, browserAction, type Form, formText, pageContext, seeOther } from "./context.ts";
import { HIDDEN, htmlResponder } from "./html.ts";
import { Shell } from "./shell.tsx";
import { FormOutcome } from "./ui/outcome.tsx";
import { adminSignupPages } from "./admin-signups.tsx";
import { pendingCount } from "../auth/signup.ts";

const SECTIONS = [
  ["/admin", "Overview"],
  ["/admin/users", "Accounts"],
  ["/admin/reports", "Reports"],
  ["/admin/signups", "Sign-ups"],
  ["/admin/invites", "Invites"],
  ["/admin/settings", "Settings"],
  ["/admin/jobs", "Jobs"],
  ["/admin/mail", "Mail"],
  ["/admin/audit", "Audit log"],
] as const;

const when = (ms: number | null) => (ms === null ? "" : new Date(ms).toISOString().replace("T", " ").slice(0, 16));

/** The refusal's message, and for a validation error each field's problem (the page shows them in one alert). */
const withFields = (err: ApiError) =>
  err.fields
    ? `${err.message}: ${Object.entries(err.fields)
        .map(([k, v]) => `${k.replaceAll("_", " ")}: ${v}`)
        .join("; ")}`
    : err.message;

const REGISTRATION_CHOICES: [RegistrationMode, string][] = [
  ["open", "Open: anyone may sign up"],
  ["invite", "Invite: with an invite link"],
  ["approval", "Approval: staff approve each"],
  ["closed", "Closed: nobody may"],
];

/** A yes/no setting as a select (a checkbox sends nothing when cleared, and "nothing" must mean "no" here). */
const YesNo = ({ id, label, value, disabled }: { id: string; label: string; value: boolean; disabled: boolean }) => (
  <>
    <label for={id} safe>
      {label}
    </label>
    <select id={id} name={id} disabled={disabled}>
      <option value="no" selected={!value}>
        No
      </option>
      <option value="yes" selected={value}>
        Yes
      </option>
    </select>
  </>
);

/** A whole-number setting, within its range (src/system/settings.ts). */
const Count = (p: { k: keyof typeof SETTING_RANGES; label: string; s: Settings; disabled: boolean }) => (
  <>
    <label for={p.k} safe>
      {p.label}
    </label>
    <input
      id={p.k}
      name={p.k}
      type="number"
      min={String(SETTING_RANGES[p.k][0])}
      max={String(SETTING_RANGES[p.k][1])}
      value={String(p.s[p.k])}
      disabled={p.disabled}
    />
  </>
);

export const adminPages = (deps: Deps) => {
  const html = htmlResponder(deps);
  const instance = deps.caches.instance;

  /** A staff page: the frame, the section links, the form outcome; sign-in for nobody, 403 for members. */
  async function staffPage(
    request: Request,
    path: string,
    query: { saved?: string; error?: string },
    render: (auth: Auth, csrf: string) => Promise<JSX.Element>,
  ) {
    const ctx = await pageContext(deps, request);
    if (!ctx.auth) return seeOther(signInPath(path));
    if (!isStaff(ctx.auth.user)) {
      const body = await (
        <Shell title="Staff only" instance={instance} viewer={ctx.viewer} path={path} narrow>
          <h1>Staff only</h1>
          <p>These pages are for the community's owners and moderators.</p>
        </Shell>
      );
      return html(body, { status: 403, cache: "no-store" });
    }
    const content = await render(ctx.auth, ctx.csrf.token);
    const saved = query.saved ? formText(query.saved, 100) : "";
    const error = query.error ? formText(query.error, 300) : "";
    const body = await (
      <Shell title="Admin" instance={instance} viewer={ctx.viewer} path={path} csrf={ctx.csrf.token}>
        <nav class="tabs wrap" aria-label="Admin sections">
          {SECTIONS.map(([href, label]) => (
            <a href={href} aria-current={href === path ? "page" : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <FormOutcome saved={saved || undefined} error={error || undefined} />
        {content as "safe"}
      </Shell>
    );
    return withCookies(html(body, { cache: "no-store" }), [ctx.csrf.setCookie]);
  }

  /** A staff write: the service's refusal becomes ?error= on `back`, success ?saved=. */
  const act = (request: Request, form: Form, back: string, saved: string, run: (auth: Auth) => Promise<unknown>) =>
    browserAction(deps, request, form, `${back}?saved=${encodeURIComponent(saved)}`, run, {
      onError: (err) => `${back}?error=${encodeURIComponent(withFields(err))}`,
    });
  const Csrf = (p: { token: string }) => <input type="hidden" name="csrf" value={p.token} />;
  const reason = (f: Form) => formText(f.reason, 500).trim();

  // Storage for the overview: the originals' total from the database (any storage driver), the SQLite file's size, and
  // with local storage the media directory walked at most once a minute (a large one takes seconds to walk).
  let media: { at: number; value: { files: number; bytes: number } } | undefined;
  async function storageFigures() {
    const [row] = await deps.database.db.select({ n: sql<number>`coalesce(sum(${posts.originalBytes}), 0)` }).from(posts);
    if (deps.config.STORAGE === "local" && (!media || deps.clock.now() - media.at >= MEDIA_EVERY_MS)) {
      media = { at: deps.clock.now(), value: await walk(join(deps.config.DATA_DIR, "media")) };
    }
    return { originals: Number(row?.n ?? 0), database: await databaseBytes(deps.config, deps.database), media: media?.value };
  }

  async function overview() {
    const db = deps.database.db;
    const n = async (q: Promise<{ n: number }[]>) => Number((await q)[0]?.n ?? 0);
    const [accounts, suspended, loops, open, jobs, mail, settings, storage, waiting] = await Promise.all([
      n(db.select({ n: count() }).from(users)),
      n(db.select({ n: count() }).from(users).where(isNotNull(users.suspendedAt))),
      n(db.select({ n: count() }).from(posts).where(eq(posts.status, "ready"))),
      n(db.select({ n: count() }).from(reports).where(eq(reports.status, "open"))),
      deps.jobs.counts(),
      listMail(deps.database, 1000),
      instanceSettings(deps),
      storageFigures(),
      pendingCount(db),
    ]);
    const outbox = mail.reduce<Record<string, number>>((acc, m) => ((acc[m.status] = (acc[m.status] ?? 0) + 1), acc), {});
    const facts: [string, string | number][] = [
      ["Accounts", accounts],
      ["Suspended", suspended],
      ["Published loops", loops],
      ["Open reports", open],
      ["Jobs queued / running / failed", `${jobs.queued ?? 0} / ${jobs.running ?? 0} / ${jobs.failed ?? 0}`],
      ["Mail queued / failed (newest 1,000)", `${outbox.queued ?? 0} / ${outbox.failed ?? 0}`],
      ["Sign-ups", settings.registration],
      ["Sign-ups waiting for approval", waiting],
      ["Originals uploaded", byteSize(storage.originals)],
      ...(storage.database ? [["Database (SQLite file + WAL)", byteSize(storage.database.main + storage.database.wal)] as [string, string]] : []),
      ...(storage.media ? [["Media on disk", `${byteSize(storage.media.bytes)} in ${storage.media.files} files`] as [string, string]] : []),
    ];
    return (
      <>
        <h1>Overview</h1>
        <dl class="card facts">
          {facts.map(([k, v]) => (
            <div>
              <dt safe>{k}</dt>
              <dd safe>{String(v)}</dd>
            </div>
          ))}
        </dl>
      </>
    );
  }

  /** A member's own upload quotas; empty fields take the community's (README "Upload quotas"). */
  const QuotaForm = ({ u, at, token }: { u: UserRow; at: string; token: string }) => (
    <form method="post" action={`${at}/quota`}>
      <Csrf token={token} />
      <label for={`per-day-${u.id}`}>Loops a day</label>
      <input id={`per-day-${u.id}`} name="per_day" type="number" min="0" max="10000" value={u.uploadQuotaPerDay?.toString() ?? ""} placeholder="community's" />
      <label for={`mb-${u.id}`}>Storage MB</label>
      <input id={`mb-${u.id}`} name="mb" type="number" min="0" max="10000000" value={u.uploadQuotaMb?.toString() ?? ""} placeholder="community's" />
      <button type="submit" class="secondary" aria-label={`Set quota of @${u.username}`}>
        Set quota
      </button>
    </form>
  );

  function accountRow(u: UserRow, me: UserRow, token: string) {
    const owner = roleOf(me) === "owner";
    const at = `/admin/users/${u.id}`;
    return (
      <li class="card">
        <p>
          <strong safe>{`@${u.username}`}</strong>{" "}
          <span class="muted" safe>{`${u.email ?? ""} · ${roleOf(u)} · ${u.postCount} loops · since ${when(u.createdAt)}`}</span>
        </p>
        {u.suspendedAt !== null ? <p class="notice error" safe>{`Suspended ${when(u.suspendedAt)}: ${u.suspensionReason}`}</p> : ""}
        {u.approval === "pending" ? (
          <p class="notice">
            Waiting for approval: see <a href="/admin/signups">Sign-ups</a>.
          </p>
        ) : (
          ""
        )}
        {u.id === me.id ? (
          <p class="muted">This is you.</p>
        ) : (
          <div class="row">
            {owner ? (
              <form method="post" action={`${at}/role`}>
                <Csrf token={token} />
                <label for={`role-${u.id}`}>Role</label>
                <select id={`role-${u.id}`} name="role">
                  {ROLES.map((r) => (
                    <option value={r} selected={r === roleOf(u)}>
                      {r}
                    </option>
                  ))}
                </select>
                <button type="submit" class="secondary" aria-label={`Set role of @${u.username}`}>
                  Set role
                </button>
              </form>
            ) : (
              ""
            )}
            {u.suspendedAt === null ? (
              <form method="post" action={`${at}/suspend`}>
                <Csrf token={token} />
                <label for={`why-${u.id}`}>Reason</label>
                <input id={`why-${u.id}`} name="reason" required maxlength="500" />
                <button type="submit" class="secondary" aria-label={`Suspend @${u.username}`}>
                  Suspend
                </button>
              </form>
            ) : (
              <form method="post" action={`${at}/unsuspend`}>
                <Csrf token={token} />
                <button type="submit" class="secondary" aria-label={`Unsuspend @${u.username}`}>
                  Unsuspend
                </button>
              </form>
            )}
            {roleOf(u) === "member" ? <QuotaForm u={u} at={at} token={token} /> : ""}
            <form method="post" action={`${at}/revoke`}>
              <Csrf token={token} />
              <button type="submit" class="secondary" aria-label={`Sign out everywhere: @${u.username}`}>
                Sign out everywhere
              </button>
            </form>
            <form method="post" action={`${at}/delete`}>
              <Csrf token={token} />
              <label>
                <input type="checkbox" name="confirm" value="1" required /> <span safe>{`Delete @${u.username} and everything of theirs`}</span>
              </label>
              <button type="submit" class="secondary" aria-label={`Delete @${u.username}`}>
                Delete
              </button>
            </form>
          </div>
        )}
      </li>
    );
  }

  const userAction =
    (saved: string, run: (auth: Auth, target: UserRow, f: Form) => Promise<unknown>) =>
    ({ request, body, params }: { request: Request; body: unknown; params: { id: string } }) => {
      const f = asForm(body);
      return act(request, f, "/admin/users", saved, async (auth) => run(auth, await findAccount(deps, params.id.slice(0, 64)), f));
    };

  return new Elysia({ name: "web-admin" })
    .use(adminSignupPages(deps, { staffPage, act }))
    .get("/admin", ({ request, query }) => staffPage(request, "/admin", query, overview), HIDDEN)
    .get(
      "/admin/users",
      ({ request, query }) =>
        staffPage(request, "/admin/users", query, async (auth, token) => {
          const q = formText((query as { q?: string }).q, 100);
          const rows = await listAccounts(deps, { limit: 200, ...(q ? { query: q } : {}) });
          return (
            <>
              <h1>Accounts</h1>
              <form method="get" action="/admin/users">
                <label for="q">Find an account (name or email)</label>
                <input id="q" name="q" value={q} />
                <button type="submit">Search</button>
              </form>
              <ul class="plain">{rows.map((u) => accountRow(u, auth.user, token))}</ul>
            </>
          );
        }),
      HIDDEN,
    )
    .post(
      "/admin/users/:id/role",
      userAction("Role changed.", (auth, target, f) => {
        const role = formText(f.role, 20);
        if (!(ROLES as readonly string[]).includes(role)) throw errors.validation({ role: "Not a role" });
        return setRole(deps, actorOf(auth.user), target, role as Role, reason(f));
      }),
      HIDDEN,
    )
    .post(
      "/admin/users/:id/suspend",
      userAction("Account suspended.", (auth, target, f) => {
        if (!reason(f)) throw errors.validation({ reason: "Say why: the person is shown it when they try to sign in" });
        return suspendAccount(deps, actorOf(auth.user), target, reason(f));
      }),
      HIDDEN,
    )
    .post(
      "/admin/users/:id/unsuspend",
      userAction("Account unsuspended.", (auth, target, f) => unsuspendAccount(deps, actorOf(auth.user), target, reason(f))),
      HIDDEN,
    )
    .post(
      "/admin/users/:id/revoke",
      userAction("Signed out everywhere.", (auth, target, f) => revokeAccountSessions(deps, actorOf(auth.user), target, reason(f))),
      HIDDEN,
    )
    .post(
      "/admin/users/:id/quota",
      userAction("Quota saved.", (auth, target, f) => {
        const value = (raw: unknown, key: string) => {
          const v = formText(raw, 20).trim();
          if (!v) return null;
          if (!/^\d{1,8}$/.test(v)) throw errors.validation({ [key]: "A whole number, or empty for the community's" });
          return Number(v);
        };
        const change = { upload_quota_per_day: value(f.per_day, "upload_quota_per_day"), upload_quota_mb: value(f.mb, "upload_quota_mb") };
        return setQuota(deps, actorOf(auth.user), target, change, reason(f));
      }),
      HIDDEN,
    )
    .post(
      "/admin/users/:id/delete",
      userAction("Account deleted.", (auth, target, f) => {
        if (f.confirm !== "1") throw errors.validation({ confirm: "Tick the box to confirm: this cannot be undone" });
        return deleteAccount(deps, actorOf(auth.user), target, reason(f));
      }),
      HIDDEN,
    )
    .get(
      "/admin/reports",
      ({ request, query }) =>
        staffPage(request, "/admin/reports", query, async (_auth, token) => {
          const open = await listReports(deps, { status: "open", limit: 200 });
          return (
            <>
              <h1>Open reports</h1>
              {open.length ? "" : <p class="muted">No open reports.</p>}
              <ul class="plain">
                {open.map((r) => (
                  <li class="card">
                    <p>
                      <strong safe>{r.targetLabel}</strong>{" "}
                      <span
                        class="muted"
                        safe
                      >{`${r.targetType === "post" ? "loop" : r.targetType === "comment" ? "comment" : "account"} · ${r.reason} · ${when(r.createdAt)}`}</span>
                    </p>
                    {r.note ? <p safe>{r.note}</p> : ""}
                    {r.targetType === "post" ? (
                      <p>
                        <a href={`/l/${r.targetId}`}>Open the loop</a>
                      </p>
                    ) : (
                      ""
                    )}
                    <form method="post" action={`/admin/reports/${r.id}/resolve`}>
                      <Csrf token={token} />
                      <label for={`action-${r.id}`}>Outcome</label>
                      <select id={`action-${r.id}`} name="action">
                        <option value="dismiss">Dismiss</option>
                        {r.targetType === "post" ? <option value="remove_loop">Take the loop down (its producer still sees it)</option> : ""}
                        {r.targetType === "post" ? <option value="delete_loop">Delete the loop and its files</option> : ""}
                        {r.targetType === "comment" ? <option value="delete_comment">Delete the comment and its replies</option> : ""}
                        <option value="suspend_user">Suspend the account</option>
                      </select>
                      <label for={`note-${r.id}`}>Note (the producer is told when a loop is removed)</label>
                      <input id={`note-${r.id}`} name="note" maxlength="1000" />
                      <button type="submit" aria-label={`Close the report about ${r.targetLabel}`}>
                        Close the report
                      </button>
                    </form>
                  </li>
                ))}
              </ul>
            </>
          );
        }),
      HIDDEN,
    )
    .post(
      "/admin/reports/:id/resolve",
      ({ request, body, params }) => {
        const f = asForm(body);
        return act(request, f, "/admin/reports", "Report closed.", (auth) => {
          const action = formText(f.action, 20);
          if (!(REPORT_ACTIONS as readonly string[]).includes(action)) throw errors.validation({ action: "Not an outcome" });
          return resolveReport(deps, actorOf(auth.user), params.id.slice(0, 64), action as ReportAction, formText(f.note, 2000));
        });
      },
      HIDDEN,
    )
    .get(
      "/admin/settings",
      ({ request, query }) =>
        staffPage(request, "/admin/settings", query, async (auth, token) => {
          const s = await instanceSettings(deps);
          const owner = roleOf(auth.user) === "owner";
          return (
            <>
              <h1>Settings</h1>
              {owner ? "" : <p class="muted">Only an owner can change these.</p>}
              <form method="post" action="/admin/settings" class="card">
                <Csrf token={token} />
                <label for="name">Name</label>
                <input id="name" name="name" value={s.name} maxlength="60" required disabled={!owner} />
                <label for="description">Description</label>
                <textarea id="description" name="description" rows="2" maxlength="300" disabled={!owner} safe>
                  {s.description}
                </textarea>
                <label for="rules">Rules</label>
                <textarea id="rules" name="rules" rows="6" maxlength="5000" disabled={!owner} safe>
                  {s.rules}
                </textarea>
                <label for="contact">Contact</label>
                <input id="contact" name="contact" value={s.contact} maxlength="200" disabled={!owner} />
                <label for="registration">Sign-ups</label>
                <select id="registration" name="registration" disabled={!owner}>
                  {REGISTRATION_CHOICES.map(([mode, text]) => (
                    <option value={mode} selected={s.registration === mode} safe>
                      {text}
                    </option>
                  ))}
                </select>
                <Count k="approval_queue_limit" label="Sign-ups that may wait for approval" s={s} disabled={!owner} />
                <YesNo id="members_invite" label="Members may make invite links" value={s.members_invite} disabled={!owner} />
                <YesNo id="sign_in_to_view" label="Sign in to view (nothing public: feeds, pages, media)" value={s.sign_in_to_view} disabled={!owner} />
                <Count k="upload_quota_per_day" label="Loops a member may upload a day (0: no limit)" s={s} disabled={!owner} />
                <Count k="upload_quota_mb" label="Storage per member in MB (0: no limit)" s={s} disabled={!owner} />
                <p class="muted">Staff have no upload quota.</p>
                {owner ? <button type="submit">Save settings</button> : ""}
              </form>
            </>
          );
        }),
      HIDDEN,
    )
    .post(
      "/admin/settings",
      ({ request, body }) => {
        const f = asForm(body);
        return act(request, f, "/admin/settings", "Settings saved.", (auth) =>
          updateSettings(
            deps,
            actorOf(auth.user),
            settingsFromText(Object.fromEntries(SETTING_KEYS.filter((k) => typeof f[k] === "string").map((k) => [k, formText(f[k], 10000)]))),
          ),
        );
      },
      HIDDEN,
    )
    .get(
      "/admin/jobs",
      ({ request, query }) =>
        staffPage(request, "/admin/jobs", query, async (_auth, token) => {
          const failed = await deps.jobs.list("failed", 100);
          return (
            <>
              <h1>Failed jobs</h1>
              {failed.length ? "" : <p class="muted">No failed jobs.</p>}
              <ul class="plain">
                {failed.map((j) => (
                  <li class="card">
                    <p>
                      <strong safe>{j.type}</strong> <span class="muted" safe>{`${j.attempts} attempts · ${when(j.updatedAt)}`}</span>
                    </p>
                    <p safe>{j.lastError ?? ""}</p>
                    <form method="post" action={`/admin/jobs/${j.id}/retry`}>
                      <Csrf token={token} />
                      <button type="submit" class="secondary" aria-label={`Retry the ${j.type} job of ${when(j.updatedAt)}`}>
                        Retry
                      </button>
                    </form>
                  </li>
                ))}
              </ul>
            </>
          );
        }),
      HIDDEN,
    )
    .post(
      "/admin/jobs/:id/retry",
      ({ request, body, params }) =>
        act(request, asForm(body), "/admin/jobs", "Job queued again.", async (auth) => {
          if (!isStaff(auth.user)) throw errors.forbidden("staff_only", "Only the community's staff may do this");
          const row = await deps.jobs.retry(params.id.slice(0, 64));
          if (!row) throw errors.notFound("job_not_found", "No failed job with that id");
          return { ok: true };
        }),
      HIDDEN,
    )
    .get(
      "/admin/mail",
      ({ request, query }) =>
        staffPage(request, "/admin/mail", query, async () => {
          const mail = await listMail(deps.database, 50);
          return (
            <>
              <h1>Mail</h1>
              <p class="muted">{deps.config.SMTP_URL ? "Sent through SMTP." : "No SMTP_URL: mail is kept here, not sent."}</p>
              <ul class="plain">
                {mail.map((m) => (
                  <li class="card">
                    <p>
                      <strong safe>{m.subject}</strong> <span class="muted" safe>{`to ${m.to} · ${m.status} · ${when(m.createdAt)}`}</span>
                    </p>
                    {m.lastError ? (
                      <p class="notice error" safe>
                        {m.lastError}
                      </p>
                    ) : (
                      ""
                    )}
                  </li>
                ))}
              </ul>
            </>
          );
        }),
      HIDDEN,
    )
    .get(
      "/admin/audit",
      ({ request, query }) =>
        staffPage(request, "/admin/audit", query, async () => {
          const entries = await listAudit(deps, { limit: 200 });
          return (
            <>
              <h1>Audit log</h1>
              {entries.length ? "" : <p class="muted">Nothing yet.</p>}
              <ul class="plain">
                {entries.map((e) => (
                  <li class="card">
                    <p>
                      <strong safe>{`${e.actor} ${e.action}`}</strong> <span safe>{e.targetLabel || e.targetId}</span>{" "}
                      <span class="muted" safe>
                        {when(e.createdAt)}
                      </span>
                    </p>
                    {e.reason ? <p safe>{e.reason}</p> : ""}
                  </li>
                ))}
              </ul>
            </>
          );
        }),
      HIDDEN,
    );
};

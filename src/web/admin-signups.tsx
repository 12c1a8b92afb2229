// /admin/signups and /admin/invites (README "Invites and approval"), mounted by the staff's pages (admin-routes.tsx),
// whose frame, CSRF-checked actions and outcome messages they use:
//   /admin/signups   the sign-ups waiting for approval, oldest first, each approved or rejected (with a reason)
//   /admin/invites   every invite link (uses, expiry, maker, who joined), a form to make one, Revoke
// The same services as the admin API and the command line (src/admin/signups.ts, src/auth/invites.ts).
import { Elysia } from "elysia";
import { actorOf } from "../admin/audit.ts";
import { approveSignup, listPendingSignups, rejectSignup } from "../admin/signups.ts";
import { findAccount } from "../admin/users.ts";
import type { Auth } from "../auth/guard.ts";
import { joinedThrough, listInvites, revokeInvite, STAFF_LIMITS } from "../auth/invites.ts";
import type { Deps } from "../deps.ts";
import { asForm, type Form, formText } from "./context.ts";
import { HIDDEN } from "./html.ts";
import { makeInviteFromForm } from "./invite-pages.tsx";
import { InviteList, NewInviteForm, NewInviteLink } from "./ui/invites.tsx";

const when = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 16);

/** What admin-routes.tsx lends these pages: its frame and its form action. */
export type StaffKit = {
  staffPage(
    request: Request,
    path: string,
    query: { saved?: string; error?: string },
    render: (auth: Auth, csrf: string) => Promise<JSX.Element>,
  ): Promise<Response>;
  act(request: Request, form: Form, back: string, saved: string, run: (auth: Auth) => Promise<unknown>): Promise<Response>;
};

export const adminSignupPages = (deps: Deps, kit: StaffKit) => {
  const { staffPage, act } = kit;

  const invitesPage = (request: Request, query: { saved?: string; error?: string }, created?: string) =>
    staffPage(request, "/admin/invites", query, async (_auth, token) => {
      const rows = await listInvites(deps, { limit: 200 });
      const joined = await joinedThrough(
        deps,
        rows.map((r) => r.id),
      );
      return (
        <>
          <h1>Invites</h1>
          {created ? <NewInviteLink url={created} /> : ""}
          <NewInviteForm action="/admin/invites" csrf={token} maxUses={STAFF_LIMITS.maxUses} maxDays={STAFF_LIMITS.maxHours / 24} />
          <h2>Invite links</h2>
          <InviteList invites={rows} now={deps.clock.now()} csrf={token} revokeBase="/admin/invites" joined={joined} />
        </>
      ) as JSX.Element;
    });

  return new Elysia({ name: "web-admin-signups" })
    .get(
      "/admin/signups",
      ({ request, query }) =>
        staffPage(request, "/admin/signups", query, async (_auth, token) => {
          const waiting = await listPendingSignups(deps);
          return (
            <>
              <h1>Sign-ups waiting for approval</h1>
              {waiting.length ? "" : <p class="muted">Nobody is waiting.</p>}
              <ul class="plain">
                {waiting.map((u) => (
                  <li class="card">
                    <p>
                      <strong safe>{`@${u.username}`}</strong>{" "}
                      <span class="muted" safe>{`${u.displayName} · ${u.email ?? "no email"} · asked ${when(u.createdAt)}`}</span>
                    </p>
                    {u.signupNote ? (
                      <blockquote class="rules" safe>
                        {u.signupNote}
                      </blockquote>
                    ) : (
                      <p class="muted">No note.</p>
                    )}
                    <div class="row">
                      <form method="post" action={`/admin/signups/${u.id}/approve`}>
                        <input type="hidden" name="csrf" value={token} />
                        <button type="submit" aria-label={`Approve @${u.username}`}>
                          Approve
                        </button>
                      </form>
                      <form method="post" action={`/admin/signups/${u.id}/reject`}>
                        <input type="hidden" name="csrf" value={token} />
                        <label for={`reject-${u.id}`}>Reason (told to them; optional)</label>
                        <input id={`reject-${u.id}`} name="reason" maxlength="500" />
                        <button type="submit" class="secondary" aria-label={`Reject @${u.username}`}>
                          Reject
                        </button>
                      </form>
                    </div>
                  </li>
                ))}
              </ul>
            </>
          ) as JSX.Element;
        }),
      HIDDEN,
    )
    .post(
      "/admin/signups/:id/approve",
      ({ request, body, params }) =>
        act(request, asForm(body), "/admin/signups", "Sign-up approved; they were mailed.", async (auth) =>
          approveSignup(deps, actorOf(auth.user), await findAccount(deps, params.id.slice(0, 64))),
        ),
      HIDDEN,
    )
    .post(
      "/admin/signups/:id/reject",
      ({ request, body, params }) => {
        const f = asForm(body);
        return act(request, f, "/admin/signups", "Sign-up rejected; they were mailed.", async (auth) =>
          rejectSignup(deps, actorOf(auth.user), await findAccount(deps, params.id.slice(0, 64)), formText(f.reason, 500).trim()),
        );
      },
      HIDDEN,
    )
    .get("/admin/invites", ({ request, query }) => invitesPage(request, query), HIDDEN)
    .post(
      "/admin/invites",
      ({ request, body }) =>
        makeInviteFromForm(deps, request, body, "/admin/invites", true, (url) => invitesPage(request, { saved: "Invite link made." }, url)),
      HIDDEN,
    )
    .post(
      "/admin/invites/:id/revoke",
      ({ request, body, params }) => act(request, asForm(body), "/admin/invites", "Invite revoked.", (auth) => revokeInvite(deps, auth.user, params.id)),
      HIDDEN,
    );
};

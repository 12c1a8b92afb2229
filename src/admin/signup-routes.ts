// Invites and sign-ups over the API (README "Invites and approval"). Members (while the owner allows it) and staff:
// POST /invites, GET /invites (mine), POST /invites/{id}/revoke. Staff only: GET /admin/invites (everyone's, with
// who joined through each), GET /admin/signups (waiting), POST /admin/signups/{id}/approve and /reject. The same
// services as /admin and the command line (src/auth/invites.ts, src/admin/signups.ts).
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import { createInvite, type InviteView, inviteState, joinedThrough, listInvites, revokeInvite } from "../auth/invites.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { isStaff, type UserRow } from "../users/service.ts";
import { actorOf } from "./audit.ts";
import { approveSignup, listPendingSignups, rejectSignup } from "./signups.ts";
import { findAccount } from "./users.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const inviteExample = {
  id: "01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b",
  created_by: "mira",
  max_uses: 5,
  uses: 1,
  expires_at: "2026-12-12T21:20:00.000Z",
  revoked_at: null,
  state: "live",
  created_at: "2026-12-05T21:20:00.000Z",
};
export const Invite = t.Object(
  {
    id: t.String(),
    created_by: t.String({ description: "the maker's username" }),
    max_uses: t.Integer(),
    uses: t.Integer(),
    expires_at: t.String(),
    revoked_at: t.Union([t.String(), t.Null()]),
    state: t.Union([t.Literal("live"), t.Literal("used_up"), t.Literal("expired"), t.Literal("revoked")]),
    created_at: t.String(),
    joined: t.Optional(t.Array(t.String(), { description: "staff: the usernames of the accounts that joined through it" })),
  },
  { examples: [inviteExample] },
);
const InviteList = t.Object({ invites: t.Array(Invite) }, { examples: [{ invites: [inviteExample] }] });
const NewInviteAnswer = t.Object(
  { invite: Invite, url: t.String({ description: "PUBLIC_URL/invite/CODE: shown once (only a hash of the code is kept)" }) },
  { examples: [{ invite: inviteExample, url: "https://loops.example.com/invite/q3Vn0a8Zk1xYtW2uJ5rP7s" }] },
);

const toInvite = (deps: Deps, i: InviteView, joined?: string[]) => ({
  id: i.id,
  created_by: i.creatorUsername,
  max_uses: i.maxUses,
  uses: i.uses,
  expires_at: new Date(i.expiresAt).toISOString(),
  revoked_at: iso(i.revokedAt),
  state: inviteState(i, deps.clock.now()),
  created_at: new Date(i.createdAt).toISOString(),
  ...(joined ? { joined } : {}),
});

const Signup = t.Object(
  {
    id: t.String(),
    username: t.String(),
    display_name: t.String(),
    email: t.String(),
    email_verified: t.Boolean(),
    note: t.String({ description: "why they want to join, as they wrote it" }),
    created_at: t.String(),
  },
  {
    examples: [
      {
        id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e",
        username: "nightbeats",
        display_name: "Night Beats",
        email: "night@example.com",
        email_verified: false,
        note: "I make lo-fi loops and a friend here told me about it.",
        created_at: "2026-12-05T21:20:00.000Z",
      },
    ],
  },
);
const SignupList = t.Object({ signups: t.Array(Signup) }, { examples: [{ signups: Signup.examples }] });
const toSignup = (u: UserRow) => ({
  id: u.id,
  username: u.username,
  display_name: u.displayName,
  email: u.email ?? "",
  email_verified: u.emailVerified,
  note: u.signupNote,
  created_at: new Date(u.createdAt).toISOString(),
});

const errs = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };
const Params = t.Object({ id: t.String({ maxLength: 64 }) });
const staffOnly = (user: UserRow) => {
  if (!isStaff(user)) throw errors.forbidden("staff_only", "Only the community's staff may do this");
  return actorOf(user);
};
/** A sign-up named by id (or username): only a waiting one is found here. */
const pendingAccount = async (deps: Deps, id: string) => {
  const u = await findAccount(deps, id);
  if (u.approval !== "pending") throw errors.conflict("not_pending", "This account is not waiting for approval");
  return u;
};

export const signupRoutes = (deps: Deps) =>
  new Elysia({ name: "signup-routes", detail: { tags: ["admin"] } })
    .use(authGuard(deps))
    .post(
      "/invites",
      async ({ auth, body, set }) => {
        const made = await createInvite(deps, auth.user, body);
        set.status = 201;
        return { invite: toInvite(deps, { ...made.invite, creatorUsername: auth.user.username }), url: made.url };
      },
      {
        auth: true,
        rateLimit: "invites",
        parse: "json",
        body: t.Object({
          max_uses: t.Optional(t.Integer({ description: "1 to 1,000 (staff) or 10 (members); default 1" })),
          expires_in_hours: t.Optional(t.Integer({ description: "1 to 720 (staff) or 168 (members); default 168 (7 days)" })),
        }),
        response: { 201: NewInviteAnswer, ...errs, 429: ErrorSchema },
        detail: { summary: "Make an invite link (staff; members while members_invite is on, at most 5 live ones)" },
      },
    )
    .get("/invites", async ({ auth }) => ({ invites: (await listInvites(deps, { creatorId: auth.user.id, limit: 100 })).map((i) => toInvite(deps, i)) }), {
      auth: true,
      response: { 200: InviteList, 401: ErrorSchema },
      detail: { summary: "My invite links, newest first (the codes are not shown again)" },
    })
    .post("/invites/:id/revoke", async ({ auth, params }) => toInvite(deps, await revokeInvite(deps, auth.user, params.id)), {
      auth: true,
      params: Params,
      response: { 200: Invite, ...errs },
      detail: { summary: "Revoke one of my invite links (staff: anyone's); it stops working at once" },
    })
    .get(
      "/admin/invites",
      async ({ auth }) => {
        staffOnly(auth.user);
        const rows = await listInvites(deps, { limit: 200 });
        const joined = await joinedThrough(
          deps,
          rows.map((r) => r.id),
        );
        return { invites: rows.map((i) => toInvite(deps, i, joined.get(i.id) ?? [])) };
      },
      {
        auth: true,
        response: { 200: InviteList, ...errs },
        detail: { summary: "Every invite link, newest first, with who joined through each (staff)" },
      },
    )
    .get(
      "/admin/signups",
      async ({ auth }) => {
        staffOnly(auth.user);
        return { signups: (await listPendingSignups(deps)).map(toSignup) };
      },
      {
        auth: true,
        response: { 200: SignupList, ...errs },
        detail: { summary: "Sign-ups waiting for approval, oldest first (staff)" },
      },
    )
    .post(
      "/admin/signups/:id/approve",
      async ({ auth, params, body }) => toSignup(await approveSignup(deps, staffOnly(auth.user), await pendingAccount(deps, params.id), body?.reason ?? "")),
      {
        auth: true,
        parse: "json",
        params: Params,
        body: t.Optional(t.Object({ reason: t.Optional(t.String({ maxLength: 500 })) })),
        response: { 200: Signup, ...errs },
        detail: { summary: "Approve a waiting sign-up: the account may sign in, and gets a mail (staff)" },
      },
    )
    .post(
      "/admin/signups/:id/reject",
      async ({ auth, params, body }) => {
        await rejectSignup(deps, staffOnly(auth.user), await pendingAccount(deps, params.id), body?.reason ?? "");
        return { ok: true as const };
      },
      {
        auth: true,
        parse: "json",
        params: Params,
        body: t.Optional(t.Object({ reason: t.Optional(t.String({ maxLength: 500, description: "told to the applicant in the mail" })) })),
        response: { 200: t.Object({ ok: t.Literal(true) }, { examples: [{ ok: true }] }), ...errs },
        detail: { summary: "Reject a waiting sign-up: the account is deleted and the applicant gets a mail with the reason (staff)" },
      },
    );

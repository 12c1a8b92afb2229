// /api/v1/admin: the staff's API (docs/security.md "Roles and staff actions"): accounts (list, role, suspend,
// unsuspend, sign out, delete) and the audit log. Signed in with the staff role (owner or moderator); each action
// is the service the command line calls (src/admin/users.ts), so the same rules hold from either door.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { isStaff, type Role, roleOf, type UserRow } from "../users/service.ts";
import { instanceSettings, SettingsPatch, SettingsSchema } from "../system/settings.ts";
import { type Actor, type AuditRow, actorOf, listAudit } from "./audit.ts";
import { listReports, type ReportRow, resolveReport } from "./reports.ts";
import { updateSettings } from "./settings.ts";
import { deleteAccount, findAccount, listAccounts, revokeAccountSessions, setQuota, setRole, suspendAccount, unsuspendAccount } from "./users.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const AdminUser = t.Object(
  {
    id: t.String(),
    username: t.String(),
    display_name: t.String(),
    email: t.String(),
    email_verified: t.Boolean(),
    role: t.Union([t.Literal("owner"), t.Literal("moderator"), t.Literal("member")]),
    suspended: t.Boolean(),
    suspended_at: t.Union([t.String(), t.Null()]),
    suspension_reason: t.String(),
    approval: t.Union([t.Literal("approved"), t.Literal("pending")], { description: "pending while the sign-up waits for staff (approval mode)" }),
    post_count: t.Integer(),
    follower_count: t.Integer(),
    following_count: t.Integer(),
    last_active: t.Union([t.String(), t.Null()]),
    created_at: t.String(),
    upload_quota_per_day: t.Union([t.Integer(), t.Null()], { description: "the member's own loops a day; null: the community's" }),
    upload_quota_mb: t.Union([t.Integer(), t.Null()], { description: "the member's own storage in MB; null: the community's" }),
  },
  {
    description: "An account as staff see it (private fields included)",
    examples: [
      {
        id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e",
        username: "nightbeats",
        display_name: "Night Beats",
        email: "night@example.com",
        email_verified: true,
        role: "member",
        suspended: false,
        suspended_at: null,
        suspension_reason: "",
        approval: "approved",
        post_count: 12,
        follower_count: 40,
        following_count: 18,
        last_active: "2026-12-05T21:14:03.000Z",
        created_at: "2026-10-01T09:00:00.000Z",
        upload_quota_per_day: null,
        upload_quota_mb: 500,
      },
    ],
  },
);
const adminUserExample = AdminUser.examples[0];
export type AdminUserT = typeof AdminUser.static;

export const toAdminUser = (u: UserRow): AdminUserT => ({
  id: u.id,
  username: u.username,
  display_name: u.displayName,
  email: u.email ?? "",
  email_verified: u.emailVerified,
  role: roleOf(u),
  suspended: u.suspendedAt !== null,
  suspended_at: iso(u.suspendedAt),
  suspension_reason: u.suspensionReason,
  approval: u.approval === "pending" ? "pending" : "approved",
  post_count: u.postCount,
  follower_count: u.followerCount,
  following_count: u.followingCount,
  last_active: iso(u.lastActiveAt),
  created_at: new Date(u.createdAt).toISOString(),
  upload_quota_per_day: u.uploadQuotaPerDay,
  upload_quota_mb: u.uploadQuotaMb,
});

const auditExample = {
  id: "01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b",
  actor: "@mira",
  actor_id: "01934f7e-0000-7cc0-9d5e-2f1a3b4c5d6e",
  action: "user.suspend",
  target_type: "user",
  target_id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e",
  target_label: "nightbeats",
  reason: "spam links in every bio",
  details: { loops_withheld: 12, role_before: "member" },
  created_at: "2026-12-05T21:20:00.000Z",
};

const AuditEntry = t.Object({
  id: t.String(),
  actor: t.String({ description: "@username of the staff member at the time, or cli" }),
  actor_id: t.Union([t.String(), t.Null()]),
  action: t.String({ description: "user.role, user.suspend, user.unsuspend, user.revoke_sessions, user.delete, ..." }),
  target_type: t.String(),
  target_id: t.String(),
  target_label: t.String(),
  reason: t.String(),
  details: t.Record(t.String(), t.Unknown()),
  created_at: t.String(),
});

const toAuditEntry = (e: AuditRow) => ({
  id: e.id,
  actor: e.actor,
  actor_id: e.actorId,
  action: e.action,
  target_type: e.targetType,
  target_id: e.targetId,
  target_label: e.targetLabel,
  reason: e.reason,
  details: e.details,
  created_at: new Date(e.createdAt).toISOString(),
});

const Reason = t.Object({ reason: t.Optional(t.String({ maxLength: 500 })) });
const Params = t.Object({ id: t.String({ maxLength: 64, description: "the account's id" }) });
const staffErrors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };

/** The acting staff member: every route starts here (signed in with the staff role, 403 staff_only otherwise). */
function staff(auth: { user: UserRow }): Actor {
  if (!isStaff(auth.user)) throw errors.forbidden("staff_only", "Only the community's staff may do this");
  return actorOf(auth.user);
}

const reportExample = {
  id: "01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b",
  reporter_id: "01934f7e-0000-7cc0-9d5e-2f1a3b4c5d6e",
  target_type: "post",
  target_id: "01934f80-aaaa-7e3f-8a9b-0c1d2e3f4a5b",
  target_user_id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e",
  target_label: "Midnight chords",
  reason: "copyright",
  note: "This is a sample from a released record.",
  status: "open",
  resolution: "",
  resolved_by: "",
  resolution_note: "",
  resolved_at: null,
  created_at: "2026-12-05T21:20:00.000Z",
};
const Report = t.Object(
  {
    id: t.String(),
    reporter_id: t.Union([t.String(), t.Null()]),
    target_type: t.String({ description: "post, comment or user" }),
    target_id: t.String(),
    target_user_id: t.Union([t.String(), t.Null()]),
    target_label: t.String({ description: "the loop's title or @username at the time" }),
    reason: t.String(),
    note: t.String(),
    status: t.String({ description: "open or closed" }),
    resolution: t.String({ description: "dismissed, loop_removed or user_suspended once closed" }),
    resolved_by: t.String(),
    resolution_note: t.String(),
    resolved_at: t.Union([t.String(), t.Null()]),
    created_at: t.String(),
  },
  { examples: [reportExample] },
);
const toReport = (r: ReportRow) => ({
  id: r.id,
  reporter_id: r.reporterId,
  target_type: r.targetType,
  target_id: r.targetId,
  target_user_id: r.targetUserId,
  target_label: r.targetLabel,
  reason: r.reason,
  note: r.note,
  status: r.status,
  resolution: r.resolution,
  resolved_by: r.resolvedBy,
  resolution_note: r.resolutionNote,
  resolved_at: iso(r.resolvedAt),
  created_at: new Date(r.createdAt).toISOString(),
});

/** "<created_at>.<id>" of the last entry of a page; null when malformed. */
function pageCursor(raw: string | undefined) {
  if (!raw) return undefined;
  const m = /^(\d{1,16})\.([0-9a-f-]{36})$/.exec(raw);
  if (!m) throw errors.validation({ cursor: "Not a cursor this server made" });
  return { createdAt: Number(m[1]), id: m[2]! };
}

export const adminRoutes = (deps: Deps) =>
  new Elysia({ name: "admin-routes", prefix: "/admin", detail: { tags: ["admin"] } })
    .use(authGuard(deps))
    .get(
      "/users",
      async ({ query, auth }) => {
        staff(auth);
        const limit = query.limit ?? 50;
        const rows = await listAccounts(deps, {
          limit: limit + 1,
          ...(query.role ? { role: query.role as Role } : {}),
          ...(query.suspended !== undefined ? { suspended: query.suspended === "true" } : {}),
          ...(query.q ? { query: query.q } : {}),
          ...(query.cursor ? { after: query.cursor } : {}),
        });
        const page = rows.slice(0, limit);
        return { users: page.map(toAdminUser), next_cursor: rows.length > limit ? page.at(-1)!.id : "" };
      },
      {
        auth: true,
        query: t.Object({
          role: t.Optional(t.Union([t.Literal("owner"), t.Literal("moderator"), t.Literal("member")])),
          suspended: t.Optional(t.Union([t.Literal("true"), t.Literal("false")])),
          q: t.Optional(t.String({ maxLength: 100, description: "part of a username or email" })),
          cursor: t.Optional(t.String({ maxLength: 64, description: "next_cursor of the previous page" })),
          limit: t.Optional(t.Integer({ minimum: 1, maximum: 200 })),
        }),
        response: {
          200: t.Object({ users: t.Array(AdminUser), next_cursor: t.String() }, { examples: [{ users: [adminUserExample], next_cursor: "" }] }),
          ...staffErrors,
        },
        detail: { summary: "Accounts, oldest first, filtered by role, suspension or a name fragment (staff)" },
      },
    )
    .get("/users/:id", async ({ params, auth }) => (staff(auth), toAdminUser(await findAccount(deps, params.id))), {
      auth: true,
      staff: true,
      params: Params,
      response: { 200: AdminUser, ...staffErrors },
      detail: { summary: "One account by id, username or email (staff)" },
    })
    .post(
      "/users/:id/role",
      async ({ params, body, auth }) => {
        const actor = staff(auth);
        return toAdminUser(await setRole(deps, actor, await findAccount(deps, params.id), body.role, body.reason ?? ""));
      },
      {
        auth: true,
        parse: "json",
        params: Params,
        body: t.Object({ role: t.Union([t.Literal("owner"), t.Literal("moderator"), t.Literal("member")]), reason: t.Optional(t.String({ maxLength: 500 })) }),
        response: { 200: AdminUser, ...staffErrors },
        detail: { summary: "Give an account a role (owners only; the last owner stays owner)" },
      },
    )
    .post(
      "/users/:id/quota",
      async ({ params, body, auth }) => {
        const actor = staff(auth);
        const { reason, ...change } = body;
        return toAdminUser(await setQuota(deps, actor, await findAccount(deps, params.id), change, reason ?? ""));
      },
      {
        auth: true,
        parse: "json",
        params: Params,
        body: t.Object({
          upload_quota_per_day: t.Optional(t.Union([t.Integer({ minimum: 0, maximum: 10_000 }), t.Null()])),
          upload_quota_mb: t.Optional(t.Union([t.Integer({ minimum: 0, maximum: 10_000_000 }), t.Null()])),
          reason: t.Optional(t.String({ maxLength: 500 })),
        }),
        response: { 200: AdminUser, ...staffErrors },
        detail: { summary: "Give a member their own upload quotas (0: no limit; null: the community's) (staff)" },
      },
    )
    .post(
      "/users/:id/suspend",
      async ({ params, body, auth }) => {
        const actor = staff(auth);
        const reason = body.reason.trim();
        if (!reason) throw errors.validation({ reason: "Say why: the person is shown it when they try to sign in" });
        return toAdminUser(await suspendAccount(deps, actor, await findAccount(deps, params.id), reason));
      },
      {
        auth: true,
        parse: "json",
        params: Params,
        body: t.Object({ reason: t.String({ maxLength: 500 }) }),
        response: { 200: AdminUser, ...staffErrors },
        detail: { summary: "Suspend an account: sessions ended, sign-in refused with the reason, loops withheld (staff)" },
      },
    )
    .post(
      "/users/:id/unsuspend",
      async ({ params, body, auth }) => {
        const actor = staff(auth);
        return toAdminUser(await unsuspendAccount(deps, actor, await findAccount(deps, params.id), body.reason ?? ""));
      },
      {
        auth: true,
        parse: "json",
        params: Params,
        body: Reason,
        response: { 200: AdminUser, ...staffErrors },
        detail: { summary: "Lift a suspension: sign-in works again, the loops are published again (staff)" },
      },
    )
    .post(
      "/users/:id/revoke-sessions",
      async ({ params, body, auth }) => {
        const actor = staff(auth);
        const target = await findAccount(deps, params.id);
        await revokeAccountSessions(deps, actor, target, body.reason ?? "");
        return toAdminUser(target);
      },
      {
        auth: true,
        parse: "json",
        params: Params,
        body: Reason,
        response: { 200: AdminUser, ...staffErrors },
        detail: { summary: "Sign an account out everywhere (staff)" },
      },
    )
    .post(
      "/users/:id/delete",
      async ({ params, body, auth }) => {
        const actor = staff(auth);
        const target = await findAccount(deps, params.id);
        return { deleted: true as const, id: target.id, ...(await deleteAccount(deps, actor, target, body.reason ?? "")) };
      },
      {
        auth: true,
        parse: "json",
        params: Params,
        body: Reason,
        response: {
          200: t.Object(
            { deleted: t.Literal(true), id: t.String(), posts: t.Integer(), follows: t.Integer(), reactions: t.Integer(), plays: t.Integer() },
            { examples: [{ deleted: true, id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e", posts: 12, follows: 58, reactions: 230, plays: 911 }] },
          ),
          ...staffErrors,
        },
        detail: { summary: "Delete an account with its loops, media, follows, reactions and plays (staff; not an owner)" },
      },
    )
    .get(
      "/reports",
      async ({ query, auth }) => {
        staff(auth);
        const limit = query.limit ?? 50;
        const after = pageCursor(query.cursor);
        const rows = await listReports(deps, { status: query.status ?? "open", limit: limit + 1, ...(after ? { after } : {}) });
        const page = rows.slice(0, limit);
        const last = page.at(-1);
        return { reports: page.map(toReport), next_cursor: rows.length > limit && last ? `${last.createdAt}.${last.id}` : "" };
      },
      {
        auth: true,
        query: t.Object({
          status: t.Optional(t.Union([t.Literal("open"), t.Literal("closed")])),
          cursor: t.Optional(t.String({ maxLength: 64 })),
          limit: t.Optional(t.Integer({ minimum: 1, maximum: 200 })),
        }),
        response: {
          200: t.Object({ reports: t.Array(Report), next_cursor: t.String() }, { examples: [{ reports: [reportExample], next_cursor: "" }] }),
          ...staffErrors,
        },
        detail: { summary: "Reports, oldest first: the open queue, or the closed ones (staff)" },
      },
    )
    .post(
      "/reports/:id/resolve",
      async ({ params, body, auth }) => {
        const actor = staff(auth);
        return toReport(await resolveReport(deps, actor, params.id, body.action, body.note));
      },
      {
        auth: true,
        parse: "json",
        params: t.Object({ id: t.String({ maxLength: 64 }) }),
        body: t.Object({
          action: t.Union([t.Literal("dismiss"), t.Literal("remove_loop"), t.Literal("delete_loop"), t.Literal("delete_comment"), t.Literal("suspend_user")]),
          note: t.Optional(t.String({ maxLength: 2000, description: "why: required to remove a loop or suspend; the producer is told" })),
        }),
        response: { 200: Report, ...staffErrors },
        detail: {
          summary: "Close a report: dismiss it, take the loop down, delete it, delete the comment, or suspend the account (staff)",
          description: "Removing a loop mails its producer the reason; every open report of the same target closes with it, and each reporter is mailed.",
        },
      },
    )
    .get("/settings", ({ auth }) => (staff(auth), instanceSettings(deps)), {
      auth: true,
      response: { 200: SettingsSchema, ...staffErrors },
      detail: { summary: "The community's settings (staff)" },
    })
    .put(
      "/settings",
      async ({ auth, body }) => {
        const actor = staff(auth);
        return updateSettings(deps, actor, body);
      },
      {
        auth: true,
        parse: "json",
        body: SettingsPatch,
        response: { 200: SettingsSchema, ...staffErrors },
        detail: { summary: "Change any of the community's settings (owners)" },
      },
    )
    .get(
      "/audit",
      async ({ query, auth }) => {
        staff(auth);
        const limit = query.limit ?? 50;
        const before = pageCursor(query.cursor);
        const rows = await listAudit(deps, { limit: limit + 1, ...(before ? { before } : {}) });
        const page = rows.slice(0, limit);
        const last = page.at(-1);
        return { entries: page.map(toAuditEntry), next_cursor: rows.length > limit && last ? `${last.createdAt}.${last.id}` : "" };
      },
      {
        auth: true,
        query: t.Object({ cursor: t.Optional(t.String({ maxLength: 64 })), limit: t.Optional(t.Integer({ minimum: 1, maximum: 200 })) }),
        response: {
          200: t.Object({ entries: t.Array(AuditEntry), next_cursor: t.String() }, { examples: [{ entries: [auditExample], next_cursor: "" }] }),
          ...staffErrors,
        },
        detail: { summary: "What staff did, newest first (staff)" },
      },
    );

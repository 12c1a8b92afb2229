// /api/v1/auth: native accounts, tokens and sessions. The route table is the security table: each route shows its
// guard ({ auth: true }) and its named rate limit ({ rateLimit: "login" }, src/http/route-limits.ts) beside it. The
// per-IP budgets and the login backoff are shared with the browser pages (src/web/pages.ts), so attempts there count
// here too; mail to an address is counted in its hourly budget, whatever sends it (src/auth/mail.ts).
import { Elysia, t } from "elysia";
import type { Deps } from "../deps.ts";
import { parseTrustedProxies, clientIp } from "../http/client-ip.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { errorFields } from "../log.ts";
import { SelfUser } from "../users/models.ts";
import { toSelfUser } from "../users/service.ts";
import { authGuard } from "./guard.ts";
import * as M from "./models.ts";
import { checkLoginWithBackoff } from "./limits.ts";
import { spendMailBudget } from "./mail.ts";
import * as service from "./service.ts";
import { listSessions, revokeSession, revokeUserSessions, rotateAccessToken, rotateRefreshToken, type ClientInfo } from "./sessions.ts";

const errorResponses = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 409: ErrorSchema, 429: ErrorSchema };

export const authRoutes = (deps: Deps) => {
  const { config, hasher } = deps;
  const trusted = parseTrustedProxies(config.TRUSTED_PROXIES);
  const client = (request: Request): ClientInfo => ({ ip: clientIp(request, trusted), userAgent: request.headers.get("user-agent") ?? "" });

  const forgot = async (email: string) => {
    await spendMailBudget(deps, email); // the address's hourly mail budget (src/auth/mail.ts)
    // Not awaited: the answer is the same, and as fast, whether or not the email has an account.
    service.requestPasswordReset(deps, email).catch((err) => deps.log.error("password reset request failed", errorFields(err, { stack: true })));
    return { ok: true as const };
  };
  const confirmReset = (token: string, password: string) =>
    service.redeemPasswordToken(deps, hasher, token, password, "reset_password").then(() => ({ ok: true as const }));

  return (
    new Elysia({ name: "auth-routes", prefix: "/auth", detail: { tags: ["auth"] } })
      .use(authGuard(deps))
      .post(
        "/register",
        async ({ body, request, set }) => {
          const r = await service.register(deps, hasher, body, client(request));
          if (r.status === "pending") {
            set.status = 202;
            return { status: "pending_approval" as const, message: M.PENDING_MESSAGE, user: { id: r.user.id, username: r.user.username } };
          }
          set.status = 201;
          return { auth: r.auth };
        },
        {
          rateLimit: "register",
          parse: "json",
          body: M.RegisterBody,
          response: { 201: M.AuthResponse, 202: M.PendingSignupResponse, ...errorResponses, 410: ErrorSchema },
          detail: {
            summary: "Create an account (plugin); 202 when it waits for staff approval",
            description:
              'The community\'s sign-up mode decides (README "Invites and approval"): open, invite (needs `invite`), approval (202, no session) or ' +
              "closed (403 registration_closed). A bad invite is 400 invite_invalid, 410 invite_expired, invite_used_up or invite_revoked.",
          },
        },
      )
      .post(
        "/login",
        async ({ body, request }) => {
          const result = await checkLoginWithBackoff(deps, body.email, body.password, clientIp(request, trusted));
          // Same status and body for an unknown account and a wrong password: no enumeration.
          if (!result.ok) throw errors.unauthorized("invalid_credentials", "Wrong email, username or password");
          return { auth: await service.authPayload(deps, result.user, client(request)) };
        },
        {
          rateLimit: "login",
          parse: "json",
          body: M.LoginBody,
          response: { 200: M.AuthResponse, ...errorResponses },
          detail: { summary: "Sign in with email or username and password (plugin)" },
        },
      )
      .post(
        "/refresh",
        async ({ body }) => {
          if (body.refresh_token) {
            const r = await rotateRefreshToken(deps, body.refresh_token);
            if (!r.ok) {
              throw r.reason === "reused"
                ? errors.unauthorized("invalid_token", "This refresh token was already used; the session has been signed out")
                : errors.unauthorized("invalid_token", "The refresh token is not valid");
            }
            const user = await service.findUserById(deps, r.userId);
            return {
              auth: { token: r.tokens.token, refresh_token: r.tokens.refresh_token, expires_at: r.tokens.expires_at, user: await toSelfUser(deps, user) },
            };
          }
          if (body.token) {
            // The plugin's form: its newest access token, unexpired (a few minutes of grace) and of a live session,
            // traded once for a new one; trading the same token again is reuse and signs the session out.
            const r = await rotateAccessToken(deps, body.token);
            if (!r.ok) {
              throw r.reason === "reused"
                ? errors.unauthorized("invalid_token", "This token was already traded for a new one; the session has been signed out")
                : r.reason === "expired"
                  ? errors.unauthorized("token_expired", "This token expired too long ago to be refreshed; sign in again")
                  : errors.unauthorized("invalid_token", "This token cannot be refreshed (not the newest of a live session); sign in again");
            }
            const user = await service.findUserById(deps, r.userId);
            return { token: r.token, expires_at: r.expiresAt.toISOString(), user: { id: user.id, username: user.username } };
          }
          throw errors.validation({ refresh_token: "Give refresh_token (or the plugin's token)" });
        },
        {
          rateLimit: "refresh",
          parse: "json",
          body: M.RefreshBody,
          response: { 200: M.RefreshResponse, ...errorResponses },
          detail: { summary: "Rotate a refresh token; the plugin's {token} form trades its newest, unexpired access token (once)" },
        },
      )
      .post("/logout", async ({ auth }) => (await revokeSession(deps, auth.user.id, auth.session.id, "logout"), { ok: true as const }), {
        auth: true,
        response: { 200: M.Ok, 401: ErrorSchema },
        detail: { summary: "Sign out this session" },
      })
      // The plugin turns an empty-body POST into a GET; a bearer token (never a cookie) makes this safe from CSRF.
      .get("/logout", async ({ auth }) => (await revokeSession(deps, auth.user.id, auth.session.id, "logout"), { ok: true as const }), {
        auth: true,
        response: { 200: M.Ok, 401: ErrorSchema },
        detail: { summary: "Sign out this session (plugin alias of POST)" },
      })
      .post("/logout-all", async ({ auth }) => (await revokeUserSessions(deps, auth.user.id, "logout_all"), { ok: true as const }), {
        auth: true,
        response: { 200: M.Ok, 401: ErrorSchema },
        detail: { summary: "Sign out every session of this account" },
      })
      .get("/me", ({ auth }) => toSelfUser(deps, auth.user), {
        auth: true,
        response: { 200: SelfUser, 401: ErrorSchema },
        detail: { summary: "The signed-in user (also GET /api/v1/users/me)" },
      })
      .post(
        "/forgot-password",
        async ({ body, set }) => {
          set.status = 202;
          return forgot(body.email);
        },
        {
          rateLimit: "forgot",
          parse: "json",
          body: M.EmailBody,
          response: { 202: M.Ok, ...errorResponses },
          detail: { summary: "Email a password reset link; the same answer for every email" },
        },
      )
      .post(
        "/reset-password",
        async ({ body, set }) => {
          // One path, two meanings told apart by the body: {email} is the plugin's forgot-password,
          // {token, new_password} is the REST confirmation.
          if ("token" in body) return confirmReset(body.token, body.new_password);
          set.status = 202;
          return forgot(body.email);
        },
        {
          rateLimit: "forgot",
          parse: "json",
          body: M.ResetPasswordBody,
          response: { 200: M.Ok, 202: M.Ok, ...errorResponses },
          detail: { summary: "Plugin alias: {email} asks for a reset link; {token, new_password} redeems it" },
        },
      )
      .post(
        "/reset-password/confirm",
        async ({ body }) => {
          return confirmReset(body.token, body.new_password);
        },
        {
          rateLimit: "forgot",
          parse: "json",
          body: M.ResetConfirmBody,
          response: { 200: M.Ok, ...errorResponses },
          detail: { summary: "Set a new password with an emailed reset token (signs out every session)" },
        },
      )
      .post(
        "/set-password",
        async ({ body }) => {
          await service.redeemPasswordToken(deps, hasher, body.token, body.password, "set_password");
          return { ok: true as const };
        },
        {
          rateLimit: "forgot",
          parse: "json",
          body: M.SetPasswordBody,
          response: { 200: M.Ok, ...errorResponses },
          detail: { summary: "Redeem an emailed set-password link (accounts without a password)" },
        },
      )
      .post(
        "/change-password",
        async ({ body, auth }) => {
          await service.changePassword(deps, hasher, auth, body);
          return { ok: true as const };
        },
        {
          auth: true,
          parse: "json",
          body: M.ChangePasswordBody,
          response: { 200: M.Ok, ...errorResponses },
          detail: { summary: "Change (or add) the password; signs out the other sessions" },
        },
      )
      .post(
        "/verify-email",
        async ({ body }) => {
          await service.verifyEmail(deps, hasher, body.token, body.password);
          return { ok: true as const };
        },
        {
          rateLimit: "verify",
          parse: "json",
          body: M.VerifyEmailBody,
          response: { 200: M.Ok, ...errorResponses },
          detail: { summary: "Confirm the email address with the emailed token (and the account's password, when it has one)" },
        },
      )
      .post(
        "/resend-verification",
        async ({ auth }) => {
          if (auth.user.email && !auth.user.emailVerified) await spendMailBudget(deps, auth.user.email);
          await service.resendVerification(deps, auth.user);
          return { ok: true as const };
        },
        { rateLimit: "resend", auth: true, response: { 200: M.Ok, ...errorResponses }, detail: { summary: "Send the verification email again" } },
      )
      .get(
        "/sessions",
        async ({ auth }) => ({
          sessions: (await listSessions(deps, auth.user.id)).map((s) => ({
            id: s.id,
            current: s.id === auth.session.id,
            created_at: new Date(s.createdAt).toISOString(),
            last_used_at: new Date(s.lastUsedAt).toISOString(),
            expires_at: new Date(Math.min(s.expiresAt, s.absoluteExpiresAt)).toISOString(),
            user_agent: s.userAgent,
            ip: s.ip,
          })),
        }),
        { auth: true, response: { 200: M.SessionList, 401: ErrorSchema }, detail: { summary: "The signed-in devices of this account" } },
      )
      .delete(
        "/sessions/:id",
        async ({ auth, params }) => {
          if (!(await revokeSession(deps, auth.user.id, params.id, "revoked_by_user")))
            throw errors.notFound("session_not_found", "No such live session on this account");
          return { ok: true as const };
        },
        {
          auth: true,
          params: t.Object({ id: t.String({ maxLength: 64 }) }),
          response: { 200: M.Ok, 401: ErrorSchema, 404: ErrorSchema },
          detail: { summary: "Sign out one device" },
        },
      )
  );
};

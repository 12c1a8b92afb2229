// Request and response schemas of the auth routes (docs/plugin-contract.md "Auth routes and tokens").
import { t } from "elysia";
import { SelfUser } from "../users/models.ts";

const tokenExample = {
  token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzaWQiOiIwMTkzIn0.c2lnbmF0dXJl",
  refresh_token: "q8WJ1oX3d2Vx5f0m1Qy3c6l7Zr9t2u4w6y8A0C2E4G6",
  expires_at: "2026-11-26T10:00:00.000Z",
};

export const AuthObject = t.Object({
  token: t.String({ description: "access token (JWT, 24 h)" }),
  refresh_token: t.String({ description: "opaque, single use: each refresh returns a new one" }),
  expires_at: t.String({ format: "date-time" }),
  user: SelfUser,
});
export const AuthResponse = t.Object({ auth: AuthObject }, { examples: [{ auth: { ...tokenExample, user: SelfUser.examples[0] } }] });

export const Ok = t.Object({ ok: t.Literal(true) }, { examples: [{ ok: true }] });

export const RegisterBody = t.Object(
  {
    email: t.String({ maxLength: 254 }),
    username: t.String({ maxLength: 30 }),
    password: t.String({ maxLength: 1024 }),
    display_name: t.Optional(t.String({ maxLength: 60 })),
    invite: t.Optional(t.String({ maxLength: 64, description: "the code of an invite link (the last part of PUBLIC_URL/invite/CODE)" })),
    note: t.Optional(t.String({ maxLength: 500, description: "approval mode: why you want to join, shown to the staff" })),
  },
  { examples: [{ email: "night@example.com", username: "nightbeats", password: "correct horse battery", display_name: "Night Beats" }] },
);

/** The answer to a registration that waits for staff (approval mode): no session, no `auth`, no `error`. */
export const PendingSignupResponse = t.Object(
  {
    status: t.Literal("pending_approval"),
    message: t.String(),
    user: t.Object({ id: t.String(), username: t.String() }),
  },
  {
    description: "202: the account exists but waits for the community's staff; signing in answers 403 approval_pending until they approve",
    examples: [
      {
        status: "pending_approval",
        message: "Thanks! Your sign-up is waiting for the community's staff. You will get an email when they decide.",
        user: { id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e", username: "nightbeats" },
      },
    ],
  },
);
export const PENDING_MESSAGE = "Thanks! Your sign-up is waiting for the community's staff. You will get an email when they decide.";

export const LoginBody = t.Object(
  { email: t.String({ maxLength: 254, description: "email or username" }), password: t.String({ maxLength: 1024 }) },
  { examples: [{ email: "night@example.com", password: "correct horse battery" }] },
);

export const RefreshBody = t.Object(
  {
    refresh_token: t.Optional(t.String({ maxLength: 200 })),
    token: t.Optional(t.String({ maxLength: 4096, description: "plugin form: its current access token" })),
  },
  { examples: [{ refresh_token: tokenExample.refresh_token }, { token: tokenExample.token }] },
);
export const PluginRefreshResponse = t.Object({
  token: t.String(),
  expires_at: t.String({ format: "date-time" }),
  user: t.Object({ id: t.String(), username: t.String() }),
});
export const RefreshResponse = t.Union([AuthResponse, PluginRefreshResponse], {
  examples: [
    { auth: { ...tokenExample, user: SelfUser.examples[0] } },
    { token: tokenExample.token, expires_at: tokenExample.expires_at, user: { id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e", username: "nightbeats" } },
  ],
});

export const EmailBody = t.Object({ email: t.String({ maxLength: 254 }) }, { examples: [{ email: "night@example.com" }] });
export const TokenBody = t.Object({ token: t.String({ maxLength: 200 }) }, { examples: [{ token: "link-token-from-the-email" }] });
export const VerifyEmailBody = t.Object(
  {
    token: t.String({ maxLength: 200 }),
    password: t.Optional(t.String({ maxLength: 1024, description: "the account's password: required when the account has one" })),
  },
  { examples: [{ token: "link-token-from-the-email", password: "correct horse battery" }] },
);
export const ResetConfirmBody = t.Object(
  { token: t.String({ maxLength: 200 }), new_password: t.String({ maxLength: 1024 }) },
  { examples: [{ token: "link-token-from-the-email", new_password: "a new long passphrase" }] },
);
export const ResetPasswordBody = t.Union([EmailBody, ResetConfirmBody], {
  examples: [{ email: "night@example.com" }, { token: "link-token-from-the-email", new_password: "a new long passphrase" }],
});
export const SetPasswordBody = t.Object(
  { token: t.String({ maxLength: 200 }), password: t.String({ maxLength: 1024 }) },
  { examples: [{ token: "link-token-from-the-email", password: "a new long passphrase" }] },
);
export const ChangePasswordBody = t.Object(
  { current_password: t.Optional(t.String({ maxLength: 1024 })), new_password: t.String({ maxLength: 1024 }) },
  { examples: [{ current_password: "correct horse battery", new_password: "a new long passphrase" }] },
);

export const SessionInfo = t.Object({
  id: t.String(),
  current: t.Boolean(),
  created_at: t.String({ format: "date-time" }),
  last_used_at: t.String({ format: "date-time" }),
  expires_at: t.String({ format: "date-time" }),
  user_agent: t.String(),
  ip: t.String(),
});
export const SessionList = t.Object(
  { sessions: t.Array(SessionInfo) },
  {
    examples: [
      {
        sessions: [
          {
            id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d70",
            current: true,
            created_at: "2026-11-25T10:00:00.000Z",
            last_used_at: "2026-11-25T11:00:00.000Z",
            expires_at: "2026-12-25T11:00:00.000Z",
            user_agent: "Sidechain-Plugin/1.0",
            ip: "203.0.113.7",
          },
        ],
      },
    ],
  },
);

// Schemas of the Google/Discord routes (docs/plugin-contract.md "Auth routes and tokens"), plus the OpenAPI
// descriptions of the routes that answer with a redirect or an HTML page instead of JSON.
import { t } from "elysia";
import { ErrorSchema } from "../../http/errors.ts";
import { SelfUser } from "../../users/models.ts";
import { AuthObject, AuthResponse } from "../models.ts";

const authExample = (AuthResponse as unknown as { examples: [{ auth: unknown }] }).examples[0].auth;

export const StartQuery = t.Object({
  session_id: t.Optional(t.String({ maxLength: 64, description: "plugin polling flow: 32 hexadecimal characters chosen by the plugin, single use" })),
  redirect_to: t.Optional(t.String({ maxLength: 2048, description: "web flow: a relative path on this server to return to (default /)" })),
  link: t.Optional(t.String({ maxLength: 1, description: "1: link the provider to the signed-in account; needs `ticket`" })),
  ticket: t.Optional(t.String({ maxLength: 4096, description: "with link=1: the single-use ticket from POST /auth/{provider}/link-start" })),
  invite: t.Optional(
    t.String({
      maxLength: 64,
      description: 'web flow: an invite link\'s code, spent only if this sign-in creates the account (README "Invites and approval")',
    }),
  ),
});

export const CallbackQuery = t.Object({
  code: t.Optional(t.String({ maxLength: 4096 })),
  state: t.Optional(t.String({ maxLength: 512 })),
  error: t.Optional(t.String({ maxLength: 256 })),
  error_description: t.Optional(t.String({ maxLength: 1024 })),
});

export const PollQuery = t.Object({ session_id: t.String({ maxLength: 64, description: "the plugin's 32-hex session id" }) });

export const PollResponse = t.Union(
  [
    t.Object({ status: t.Literal("pending") }),
    t.Object({ status: t.Literal("complete"), auth: AuthObject }),
    // The plugin reads `message` here; an `error` key would make it treat the answer as a failed request.
    t.Object({ status: t.Literal("error"), message: t.String() }),
    t.Object({ status: t.Literal("expired") }),
    t.Object({ status: t.Literal("not_found") }),
  ],
  {
    description: "Always HTTP 200. `complete` is answered once; later polls answer `not_found`.",
    examples: [
      { status: "pending" },
      { status: "complete", auth: authExample },
      { status: "error", message: "You cancelled the sign-in at Google." },
      { status: "expired" },
      { status: "not_found" },
    ],
  },
);

export const ConfirmBody = t.Object(
  {
    csrf: t.String({ maxLength: 200 }),
    ticket: t.String({ maxLength: 4096 }),
    decision: t.Union([t.Literal("approve"), t.Literal("deny")]),
  },
  { examples: [{ csrf: "value-of-the-sc_csrf-cookie", ticket: "sealed-ticket-from-the-page", decision: "approve" }] },
);

export const LinkStartResponse = t.Object(
  {
    url: t.String({ description: "open this in the browser (single use)" }),
    expires_at: t.String({ format: "date-time" }),
  },
  {
    examples: [
      { url: "https://loops.example.com/api/v1/auth/google?link=1&ticket=eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..", expires_at: "2026-11-25T10:02:00.000Z" },
    ],
  },
);

export const IdentityList = t.Array(
  t.Object({
    provider: t.String(),
    email: t.String({ description: 'the provider\'s verified email when it gave one, else ""' }),
    linked_at: t.String({ format: "date-time" }),
  }),
  { examples: [[{ provider: "google", email: "night@example.com", linked_at: "2026-11-25T10:00:00.000Z" }]] },
);

export const ProviderParams = t.Object({ provider: t.String({ maxLength: 20, description: "google or discord" }) });

export { AuthResponse, SelfUser };

// ── OpenAPI descriptions of the non-JSON answers ──
const errorJson = (() => {
  const { $id: _id, ...rest } = JSON.parse(JSON.stringify(ErrorSchema)) as Record<string, unknown>;
  return rest as { type: "object" };
})();
const jsonError = (description: string) => ({ description, content: { "application/json": { schema: errorJson } } });
const html = (description: string, example: string) => ({ description, content: { "text/html": { schema: { type: "string" as const }, example } } });

export const startResponses = {
  302: {
    description: "Redirect to the provider's authorization page; sets the HttpOnly SameSite=Lax flow cookie (state + PKCE verifier, 10 minutes)",
    headers: {
      Location: { schema: { type: "string" as const }, description: "the provider's authorization URL" },
      "Set-Cookie": { schema: { type: "string" as const } },
    },
  },
  400: jsonError("Invalid parameters (e.g. redirect_to not a relative path, malformed session_id)"),
  401: jsonError("link=1 with a missing, used or expired ticket, or a session that ended"),
  403: jsonError("link=1 refused: email not verified or no recent sign-in"),
  404: jsonError("provider_disabled: the provider is not configured on this server"),
  409: jsonError("session_id_used: this plugin session id was used before"),
  429: jsonError("Too many sign-in starts from this address"),
};

export const callbackResponses = {
  200: html(
    "Plugin flow: the confirmation page naming the plugin sign-in. Link flow: the linked page.",
    "<!doctype html><html>…<h1>Sign in to the Sidechain plugin as nightbeats?</h1>…</html>",
  ),
  302: {
    description: "Web flow: back to redirect_to, with the one-time result cookie to redeem at POST /auth/oauth/exchange",
    headers: { Location: { schema: { type: "string" as const } } },
  },
  400: html(
    "Missing or mismatched state (nothing is sent to the provider), cancelled at the provider, or refused code",
    "<!doctype html><html>…<h1>Sign-in failed</h1>…</html>",
  ),
  404: html("The provider is not configured on this server", "<!doctype html><html>…<h1>Not available</h1>…</html>"),
  429: jsonError("Too many requests from this address"),
};

export const confirmResponses = {
  200: html("Signed in to the plugin (or cancelled)", "<!doctype html><html>…<h1>Signed in to the Sidechain plugin</h1>…</html>"),
  400: html("Expired, already used or forged confirmation", "<!doctype html><html>…<h1>This sign-in expired</h1>…</html>"),
  429: jsonError("Too many requests from this address"),
};

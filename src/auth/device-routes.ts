// /api/v1/auth/device (docs/security.md "Device sign-in (RFC 8628)"). The user approves at PUBLIC_URL/device
// (src/web/pages.ts); this file is the device's side: ask for a code, then poll. Each route shows its limit.
import { Elysia, t } from "elysia";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { ApiError, ErrorSchema, errors } from "../http/errors.ts";
import { SelfUser } from "../users/models.ts";
import { createDeviceAuthorization, pollDeviceAuthorization } from "./device.ts";
import { authGuard } from "./guard.ts";
import { AuthObject } from "./models.ts";

const DeviceCodeResponse = t.Object(
  {
    device_code: t.String({ description: "secret: keep it on the device and poll with it" }),
    user_code: t.String({ description: "show it to the user (XXXX-XXXX)" }),
    verification_uri: t.String({ description: "where the user enters the code" }),
    verification_uri_complete: t.String({ description: "the same page with the code filled in (for a QR code or a link)" }),
    expires_in: t.Integer({ description: "seconds" }),
    interval: t.Integer({ description: "seconds to wait between polls" }),
  },
  {
    examples: [
      {
        device_code: "Gm3xK0q8yVb2R7tN1cJd5eWf9hLs4uPz6aQiXo2Y1kE",
        user_code: "WDJB-MJHT",
        verification_uri: "https://sidechain.example.com/device",
        verification_uri_complete: "https://sidechain.example.com/device?code=WDJB-MJHT",
        expires_in: 600,
        interval: 5,
      },
    ],
  },
);

const DeviceTokenBody = t.Object(
  {
    device_code: t.String({ minLength: 1, maxLength: 200 }),
    // Sent by generic RFC 8628 clients; accepted and ignored.
    grant_type: t.Optional(t.String({ maxLength: 100 })),
    client_id: t.Optional(t.String({ maxLength: 200 })),
  },
  { examples: [{ device_code: "Gm3xK0q8yVb2R7tN1cJd5eWf9hLs4uPz6aQiXo2Y1kE" }] },
);

const DeviceTokenResponse = t.Union([t.Object({ status: t.Literal("pending") }), t.Object({ status: t.Literal("complete"), auth: AuthObject })], {
  examples: [
    { status: "pending" },
    {
      status: "complete",
      auth: {
        token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzaWQiOiIwMTkzIn0.c2lnbmF0dXJl",
        refresh_token: "q8WJ1oX3d2Vx5f0m1Qy3c6l7Zr9t2u4w6y8A0C2E4G6",
        expires_at: "2026-11-26T10:00:00.000Z",
        user: SelfUser.examples[0],
      },
    },
  ],
});

const MESSAGES = {
  invalid_grant: "Unknown device code; ask for a new one",
  expired_token: "This device code has expired or was already used; ask for a new one",
  access_denied: "The sign-in was denied in the browser",
} as const;

export const deviceRoutes = (deps: Deps) => {
  const { config } = deps;
  const trusted = parseTrustedProxies(config.TRUSTED_PROXIES);
  const ip = (request: Request) => clientIp(request, trusted);

  return new Elysia({ name: "device-routes", prefix: "/auth/device", detail: { tags: ["auth"] } })
    .use(authGuard(deps))
    .post(
      "/code",
      async () => {
        const d = await createDeviceAuthorization(deps);
        // Links come from PUBLIC_URL, never from the request's Host header.
        const verificationUri = `${config.PUBLIC_URL}/device`;
        return {
          device_code: d.deviceCode,
          user_code: d.userCode,
          verification_uri: verificationUri,
          verification_uri_complete: `${verificationUri}?code=${encodeURIComponent(d.userCode)}`,
          expires_in: d.expiresInS,
          interval: d.intervalS,
        };
      },
      {
        rateLimit: "device-code",
        response: { 200: DeviceCodeResponse, 429: ErrorSchema },
        detail: { summary: "Start a device sign-in (RFC 8628): a device code to poll with and a user code to show" },
      },
    )
    .post(
      "/token",
      async ({ body, request }) => {
        const r = await pollDeviceAuthorization(deps, body.device_code, { ip: ip(request), userAgent: request.headers.get("user-agent") ?? "" });
        if (r.status !== "error") return r;
        if (r.error === "slow_down") {
          // RFC 8628 §3.5: the client must add 5 s to its interval; Retry-After tells it the new one.
          throw new ApiError(400, "slow_down", `Polling too fast: wait ${r.intervalS} s between polls`, undefined, { "retry-after": String(r.intervalS) });
        }
        throw errors.badRequest(r.error, MESSAGES[r.error]);
      },
      {
        rateLimit: "device-poll",
        parse: "json",
        body: DeviceTokenBody,
        response: { 200: DeviceTokenResponse, 400: ErrorSchema, 429: ErrorSchema },
        detail: {
          summary: "Poll a device sign-in: pending, or complete with tokens (handed out once); errors expired_token, access_denied, slow_down",
        },
      },
    );
};

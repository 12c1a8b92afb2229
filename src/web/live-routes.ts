// Live updates in the browser (docs/security.md "Web app"): POST /web/ws-token gives the page's script a
// single-use ticket for the WebSocket (auth/ws-token.ts), because the hub never reads the session cookie. Signed in
// through the browser-session cookie, CSRF-checked (the x-csrf-token header), rate limited per user.
import { Elysia, t } from "elysia";
import { issueWsToken, WS_TOKEN_TTL_S } from "../auth/ws-token.ts";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { ErrorSchema } from "../http/errors.ts";
import { browserAction } from "./context.ts";

const WsTokenResponse = t.Object(
  {
    token: t.String({ description: `a "ws" token: ?token= of /api/v1/ws, once, within expires_in seconds, from this server's pages` }),
    expires_in: t.Integer({ description: "seconds the token stays valid" }),
  },
  { examples: [{ token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0eXAiOiJ3cyJ9.c2lnbmF0dXJl", expires_in: WS_TOKEN_TTL_S }] },
);

export const liveRoutes = (deps: Deps) => {
  const trusted = parseTrustedProxies(deps.config.TRUSTED_PROXIES);
  return new Elysia({ name: "web-live" }).post(
    "/web/ws-token",
    ({ request, body }) =>
      browserAction(deps, request, (body ?? {}) as Record<string, unknown>, "/", async (auth) => {
        await deps.routeLimits.hit("ws-tokens", { ip: clientIp(request, trusted), userId: auth.user.id });
        return await issueWsToken(deps, auth);
      }),
    {
      response: { 200: WsTokenResponse, 401: ErrorSchema, 403: ErrorSchema, 429: ErrorSchema },
      detail: {
        tags: ["web"],
        summary: "A single-use WebSocket ticket for the web app's signed-in page (browser-session cookie and x-csrf-token header)",
      },
    },
  );
};

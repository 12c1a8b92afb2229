// GET /api/v1/auth/stream-token: a Stream.io user token for the signed-in user, or 404 stream_disabled.
import { Elysia, t } from "elysia";
import type { Deps } from "../deps.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { authGuard } from "./guard.ts";
import { createStreamTokens } from "./stream-token.ts";

const StreamTokenResponse = t.Object(
  {
    token: t.String({ description: "Stream.io user token (JWT HS256 signed with the Stream API secret)" }),
    api_key: t.String({ description: "the Stream.io API key clients connect with" }),
    user_id: t.String({ description: "the Stream.io user id (our user id)" }),
  },
  {
    examples: [
      {
        token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjoiMDE5MzRmN2UifQ.c2lnbmF0dXJl",
        api_key: "mmhfdzb5evj2",
        user_id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e",
      },
    ],
  },
);

export const streamTokenRoutes = (deps: Deps) => {
  const stream = createStreamTokens(deps.config, deps.clock);
  return new Elysia({ name: "stream-token-routes", prefix: "/auth", detail: { tags: ["auth"] } }).use(authGuard(deps)).get(
    "/stream-token",
    ({ auth }) => {
      if (!stream) throw errors.notFound("stream_disabled", "Stream.io is not configured on this server");
      return { token: stream.userToken(auth.user.id), api_key: stream.apiKey, user_id: auth.user.id };
    },
    {
      auth: true,
      response: { 200: StreamTokenResponse, 401: ErrorSchema, 404: ErrorSchema },
      detail: { summary: "A Stream.io user token for the signed-in user (404 stream_disabled when Stream.io is off)" },
    },
  );
};

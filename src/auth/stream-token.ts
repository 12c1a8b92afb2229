// Stream.io user tokens for clients (GET /api/v1/auth/stream-token). On only when STREAM_API_KEY and
// STREAM_API_SECRET are set. The token comes from @stream-io/node-sdk's generateUserToken (an HS256 JWT signed
// with the API secret and carrying user_id); our user ids are the Stream user ids (docs/architecture.md "Data rules").
import { StreamClient } from "@stream-io/node-sdk";
import type { Config } from "../config.ts";
import type { Clock } from "../deps.ts";

export type StreamTokens = { apiKey: string; userToken(userId: string): string };

/** Returns null when Stream.io is not configured. The client is built once; building it makes no request. */
export function createStreamTokens(
  config: Pick<Config, "STREAM_API_KEY" | "STREAM_API_SECRET" | "STREAM_BASE_URL" | "ACCESS_TOKEN_TTL_S">,
  clock: Clock,
): StreamTokens | null {
  const { STREAM_API_KEY: apiKey, STREAM_API_SECRET: secret, STREAM_BASE_URL: basePath } = config;
  if (!apiKey || !secret) return null;
  const client = new StreamClient(apiKey, secret, basePath ? { basePath } : undefined);
  return {
    apiKey,
    userToken(userId) {
      // The SDK's default iat is "now - 1 s" (clock skew); we pass ours so the deps clock governs, and give the token
      // the access token's lifetime (the plugin fetches a new one when it signs in or refreshes).
      const iat = Math.floor(clock.now() / 1000) - 1;
      return client.generateUserToken({ user_id: userId, iat, exp: iat + config.ACCESS_TOKEN_TTL_S });
    },
  };
}

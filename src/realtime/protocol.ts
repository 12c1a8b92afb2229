// The WebSocket protocol (docs/plugin-contract.md "WebSocket"): what a client may send, as one TypeBox union of
// frames (the schemas are the validation and the types), the frames the server sends, the close codes, and the
// per-connection frame budget. Frames are JSON {type, payload, timestamp}, timestamp in ms.
//
//   client → server   heartbeat   → {"type":"pong","payload":{"client_timestamp":..},"timestamp":..}  ("ping" too)
//                     presence    {"status":"online"|"in_studio"|"away","daw":"Ableton Live"}
//                     watch       {"post_ids":[...]}  reactions to these posts reach this user for WS_WATCH_TTL_MS
//                                 (answered {"type":"watching","payload":{"post_ids":[...]}}); unwatch likewise
//   server → client   new_post, post_liked, post_unliked, follow, unfollow (followed by follower_count_update, the
//                     name the plugin reads), notification, presence (top-level user_id, is_online, is_in_studio,
//                     status, last_active, plus the same in payload), pong, watching, error (top-level error code
//                     and message).
//   Protocol pings are answered by Bun (pong) and count as traffic.
//
// A frame that is refused is answered with an `error` frame naming why (the connection stays open):
// frame_too_large, unsupported_frame (binary), malformed_frame (not JSON, or not an object with a string `type`),
// unknown_type, invalid_presence, invalid_watch, rate_limited.
import { t, type Static, type TSchema } from "elysia";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { WATCH_MAX_PER_FRAME } from "./watches.ts";

// Close codes (the reason repeats the error code; an `error` frame precedes each of ours):
export const CLOSE = {
  /** Server shutting down or restarting: reconnect (with backoff). */
  shutdown: { code: 1001, reason: "server_shutdown" },
  /** No frame from the client for WS_IDLE_TIMEOUT_S. */
  idle: { code: 4000, reason: "idle_timeout" },
  /** The session behind the token was revoked or expired: sign in again, do not retry with the same token. */
  sessionEnded: { code: 4001, reason: "session_revoked" },
  /** WS_MAX_CONNECTIONS_PER_USER connections already open for this user. */
  tooMany: { code: 4008, reason: "too_many_connections" },
  /** Kept flooding after `rate_limited` errors. */
  rateLimited: { code: 4029, reason: "rate_limited" },
} as const;
// Bun itself closes with 1009 a frame above the hard cap (HARD_CAP_BYTES), and with 1006 a client that stops
// reading while 1 MiB of frames is queued for it (backpressure); both clients simply reconnect.

/** Frames above this are cut by Bun (close 1009); between WS_MAX_MESSAGE_BYTES and this, we answer an error. */
export const HARD_CAP_BYTES = 1024 * 1024;

// ── client frames ──

/** What every frame is: an object with a string `type`; anything else is malformed_frame. */
const Envelope = t.Object({ type: t.String() });

export const HeartbeatFrame = t.Object({
  type: t.Union([t.Literal("heartbeat"), t.Literal("ping")]),
  payload: t.Optional(t.Unknown()),
  timestamp: t.Optional(t.Unknown({ description: "echoed as client_timestamp when it is a number" })),
});
export const PresenceFrame = t.Object({
  type: t.Literal("presence"),
  payload: t.Object({
    status: t.Union([t.Literal("online"), t.Literal("in_studio"), t.Literal("away")]),
    daw: t.Optional(t.Unknown({ description: "the DAW, shown while in_studio (a string; anything else is no DAW)" })),
  }),
});
export const WatchFrame = t.Object({
  type: t.Union([t.Literal("watch"), t.Literal("unwatch")]),
  payload: t.Object({
    post_ids: t.Array(t.Unknown(), {
      description: `post ids (or "loop:<id>"); ids that are not strings of 1–64 characters are skipped, at most ${WATCH_MAX_PER_FRAME} are taken`,
    }),
  }),
});
/** Every frame a client may send. */
export const ClientFrame = t.Union([HeartbeatFrame, PresenceFrame, WatchFrame]);
export type ClientFrame = Static<typeof ClientFrame>;

/** Per frame type: its schema, and the error answered when a frame of that type does not match it. */
const BY_TYPE: Record<string, { schema: TSchema; error: readonly [code: string, message: string] }> = {
  heartbeat: { schema: HeartbeatFrame, error: ["malformed_frame", 'A heartbeat frame is {"type":"heartbeat"}'] },
  ping: { schema: HeartbeatFrame, error: ["malformed_frame", 'A ping frame is {"type":"ping"}'] },
  presence: { schema: PresenceFrame, error: ["invalid_presence", 'payload.status must be "online", "in_studio" or "away"'] },
  watch: { schema: WatchFrame, error: ["invalid_watch", "payload.post_ids must be an array of post ids"] },
  unwatch: { schema: WatchFrame, error: ["invalid_watch", "payload.post_ids must be an array of post ids"] },
};
const envelope = TypeCompiler.Compile(Envelope);
const checks = new Map(Object.entries(BY_TYPE).map(([type, { schema, error }]) => [type, { check: TypeCompiler.Compile(schema), error }]));

/** Why a frame is refused; `typed` once it was a well-formed frame (an object with a string type). */
export type FrameError = { error: string; message: string; typed: boolean };

/** A text frame as the client sent it → the frame, or the error to answer (code and message). */
export function parseClientFrame(raw: string): { frame: ClientFrame } | FrameError {
  let msg: unknown;
  try {
    msg = JSON.parse(raw);
  } catch {
    return { error: "malformed_frame", message: "The frame is not valid JSON", typed: false };
  }
  if (!envelope.Check(msg)) return { error: "malformed_frame", message: 'A frame is a JSON object {"type", "payload", "timestamp"}', typed: false };
  const known = checks.get(msg.type);
  if (!known) return { error: "unknown_type", message: `Unknown frame type "${msg.type.slice(0, 40)}"`, typed: true };
  if (!known.check.Check(msg)) return { error: known.error[0], message: known.error[1], typed: true };
  return { frame: msg as ClientFrame };
}

/** A DAW name as shown in presence: trimmed, at most 100 characters, and "" for the plugin's "Unknown". */
export const cleanDaw = (daw: unknown) => {
  if (typeof daw !== "string") return "";
  const v = daw.trim().slice(0, 100);
  return v.toLowerCase() === "unknown" ? "" : v;
};

// ── server frames ──

/** A server frame: {type, ...top, payload, timestamp}. */
export const serverFrame = (type: string, payload: unknown, now: number, top: Record<string, unknown> = {}) =>
  JSON.stringify({ type, ...top, payload, timestamp: now });
/** The error frame: the code and message both at the top and in the payload. */
export const errorFrame = (code: string, message: string, now: number) => serverFrame("error", { error: code, message }, now, { error: code, message });

// ── the frame budget (a token bucket per connection) ──

export type FrameBudget = {
  tokens: number;
  refilledAt: number;
  /** Frames refused in a row; past the limit again, the connection is closed. */
  refused: number;
};

/** A full bucket. */
export const newFrameBudget = (perMinute: number, now: number): FrameBudget => ({ tokens: perMinute, refilledAt: now, refused: 0 });

/** Takes one frame's token (refilled at `perMinute` a minute, at most `perMinute` saved); false when there is none. */
export function takeFrameToken(b: FrameBudget, perMinute: number, now: number): boolean {
  b.tokens = Math.min(perMinute, b.tokens + ((now - b.refilledAt) * perMinute) / 60_000);
  b.refilledAt = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    b.refused = 0;
    return true;
  }
  b.refused++;
  return false;
}

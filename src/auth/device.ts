// RFC 8628 device sign-in, for the plugin and headless clients that can show a code but not a browser:
//   1. the device asks for a code pair (createDeviceAuthorization): a secret device code it keeps, and a short
//      user code it shows;
//   2. the user opens PUBLIC_URL/device, signs in, enters the user code and approves (decideDeviceAuthorization);
//   3. the device polls with its device code (pollDeviceAuthorization) and gets its tokens once.
// Rows live in sign_in_requests (kind "device", id = SHA-256 of the device code: the code itself is never stored).
// Tokens are minted when the result is handed out, never stored. Expected failures are returned as tagged unions.
import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import { signInRequests, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { randomToken, sha256 } from "../lib/crypto.ts";
import { authPayload, type AuthPayload } from "./service.ts";
import type { ClientInfo } from "./sessions.ts";
import { isUniqueViolation } from "../db/errors.ts";

const KIND = "device";
/** docs/security.md: device codes expire after 10 minutes. */
export const DEVICE_CODE_TTL_MS = 10 * 60_000;
/** RFC 8628 §3.2: the default polling interval is 5 s; §3.5: each slow_down adds 5 s. */
export const DEVICE_POLL_INTERVAL_S = 5;
export const SLOW_DOWN_STEP_S = 5;
/** A poll may arrive this much early (network jitter) before it counts as too fast. */
const POLL_SLACK_MS = 500;
/** Expired rows are kept this long so late polls still hear expired_token, then deleted. */
const KEEP_EXPIRED_MS = 60 * 60_000;

/**
 * RFC 8628 §6.1: 20 consonants, no vowels (no words can be spelled), no look-alike characters (0/O, 1/I/L...).
 * 8 of them are 20^8 ≈ 2^34.6 codes; with a handful of live codes at any time and the per-IP and per-user limits
 * on the /device page, guessing a live code is hopeless within its 10 minutes.
 */
export const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";

function randomUserCode(): string {
  const out: string[] = [];
  while (out.length < 8) {
    for (const b of crypto.getRandomValues(new Uint8Array(16))) {
      // Rejection sampling: 240 = 12 × 20, so bytes below it map uniformly onto the alphabet.
      if (b < 240 && out.length < 8) out.push(USER_CODE_ALPHABET[b % 20]!);
    }
  }
  return `${out.slice(0, 4).join("")}-${out.slice(4).join("")}`;
}

/** The canonical "XXXX-XXXX" form of what a user typed (any case, spaces or dashes), or null if it cannot be one. */
export function normalizeUserCode(input: unknown): string | null {
  if (typeof input !== "string" || input.length > 40) return null;
  const letters = input.toUpperCase().replace(/[\s-]/g, "");
  if (letters.length !== 8 || [...letters].some((c) => !USER_CODE_ALPHABET.includes(c))) return null;
  return `${letters.slice(0, 4)}-${letters.slice(4)}`;
}

export type DeviceAuthorization = { deviceCode: string; userCode: string; expiresInS: number; intervalS: number };

/** Step 1: a new device code (256 bits, stored as SHA-256) and its user code. */
export async function createDeviceAuthorization(deps: Deps): Promise<DeviceAuthorization> {
  const { db } = deps.database;
  const now = deps.clock.now();
  // Housekeeping: long-expired device rows go, which also frees their user codes.
  await db.delete(signInRequests).where(and(eq(signInRequests.kind, KIND), lt(signInRequests.expiresAt, now - KEEP_EXPIRED_MS)));
  const deviceCode = randomToken();
  for (let attempt = 0; ; attempt++) {
    const userCode = randomUserCode();
    try {
      await db.insert(signInRequests).values({
        id: sha256(deviceCode),
        kind: KIND,
        status: "pending",
        userCode,
        intervalS: DEVICE_POLL_INTERVAL_S,
        createdAt: now,
        expiresAt: now + DEVICE_CODE_TTL_MS,
      });
      return { deviceCode, userCode, expiresInS: DEVICE_CODE_TTL_MS / 1000, intervalS: DEVICE_POLL_INTERVAL_S };
    } catch (err) {
      // The user code is unique in the table: on the rare collision, draw another one.
      if (attempt < 5 && isUniqueViolation(err)) continue;
      throw err;
    }
  }
}

export type DevicePollResult =
  | { status: "pending" }
  | { status: "complete"; auth: AuthPayload }
  | { status: "error"; error: "invalid_grant" | "expired_token" | "access_denied" }
  | { status: "error"; error: "slow_down"; intervalS: number };

/** Step 3: the device's poll. The approved result is handed out once; afterwards the code is spent. */
export async function pollDeviceAuthorization(deps: Deps, deviceCode: string, client: ClientInfo): Promise<DevicePollResult> {
  const { db } = deps.database;
  const id = sha256(deviceCode);
  const now = deps.clock.now();
  const [row] = await db
    .select()
    .from(signInRequests)
    .where(and(eq(signInRequests.id, id), eq(signInRequests.kind, KIND)))
    .limit(1);
  if (!row) return { status: "error", error: "invalid_grant" };
  // A spent code is as good as an expired one: the device must start over.
  if (row.status === "consumed" || row.expiresAt <= now) return { status: "error", error: "expired_token" };

  // RFC 8628 §3.5: polling faster than the interval is slow_down, and the interval grows by 5 s for this and every
  // later poll. The pace check and the poll record are one conditional UPDATE, so concurrent polls cannot both
  // pass it.
  const paced = await db
    .update(signInRequests)
    .set({ lastPollAt: now })
    .where(
      and(
        eq(signInRequests.id, id),
        or(isNull(signInRequests.lastPollAt), sql`${signInRequests.lastPollAt} + ${signInRequests.intervalS} * 1000 - ${POLL_SLACK_MS} <= ${now}`),
      ),
    )
    .returning({ id: signInRequests.id });
  if (paced.length === 0) {
    const [slowed] = await db
      .update(signInRequests)
      .set({ intervalS: sql`${signInRequests.intervalS} + ${SLOW_DOWN_STEP_S}`, lastPollAt: now })
      .where(eq(signInRequests.id, id))
      .returning({ intervalS: signInRequests.intervalS });
    return { status: "error", error: "slow_down", intervalS: slowed?.intervalS ?? row.intervalS + SLOW_DOWN_STEP_S };
  }

  if (row.status === "denied") return { status: "error", error: "access_denied" };
  if (row.status !== "approved") return { status: "pending" };

  // Approved: spend the code and mint the session in one transaction; the status condition makes the hand-out
  // happen once even when two polls race.
  const auth = await deps.database.tx(async (tx) => {
    const [spent] = await tx
      .update(signInRequests)
      .set({ status: "consumed" })
      .where(and(eq(signInRequests.id, id), eq(signInRequests.status, "approved")))
      .returning({ userId: signInRequests.userId, authenticatedAt: signInRequests.authenticatedAt });
    if (!spent?.userId) return null;
    const [user] = await tx.select().from(users).where(eq(users.id, spent.userId)).limit(1);
    if (!user) return null;
    // L6: the device's session is as recently authenticated as the browser session that approved it, no more
    // (an approval recorded before that time was kept counts as long ago).
    return authPayload(deps, user, client, tx, { authenticatedAt: spent.authenticatedAt ?? 0 });
  });
  return auth ? { status: "complete", auth } : { status: "error", error: "expired_token" };
}

export type PendingDevice = { userCode: string; createdAt: number; expiresAt: number };

/** The live, undecided request behind a user code (for the confirmation page), or null. */
export async function findPendingDevice(deps: Deps, userCode: string): Promise<PendingDevice | null> {
  const code = normalizeUserCode(userCode);
  if (!code) return null;
  const [row] = await deps.database.db
    .select()
    .from(signInRequests)
    .where(and(eq(signInRequests.userCode, code), eq(signInRequests.kind, KIND), eq(signInRequests.status, "pending")))
    .limit(1);
  if (!row || row.expiresAt <= deps.clock.now()) return null;
  return { userCode: code, createdAt: row.createdAt, expiresAt: row.expiresAt };
}

/** Who decides a device sign-in: the user of the browser session, and when that session last proved a credential. */
export type DeviceApprover = { userId: string; authenticatedAt: number };

/**
 * Step 2: the signed-in user approves (the device will be signed in as them) or denies. Only a live, undecided
 * request can be decided, once: one conditional UPDATE.
 */
export async function decideDeviceAuthorization(deps: Deps, userCode: string, approver: DeviceApprover, decision: "approve" | "deny"): Promise<boolean> {
  const code = normalizeUserCode(userCode);
  if (!code) return false;
  const now = deps.clock.now();
  const rows = await deps.database.db
    .update(signInRequests)
    .set({ status: decision === "approve" ? "approved" : "denied", userId: approver.userId, authenticatedAt: approver.authenticatedAt })
    .where(
      and(eq(signInRequests.userCode, code), eq(signInRequests.kind, KIND), eq(signInRequests.status, "pending"), sql`${signInRequests.expiresAt} > ${now}`),
    )
    .returning({ id: signInRequests.id });
  return rows.length > 0;
}

// Signed media URLs for "sign in to view" (README "Sign in to view"): while the setting is on, media may only be
// fetched by whoever was handed its URL in an answer that needed a session. The plugin fetches audio and waveform
// images with its own HTTP client and sends no Authorization header on those fetches, so a session header cannot be
// required of a media request; instead the URL carries an expiry and an HMAC of the key and that expiry, made with
// a key derived from JWT_SECRET (every instance that shares the secret signs and checks the same way).
//
// The expiry is bucketed: a URL made at any moment of one hour expires EXTRA_HOURS after that hour ends (so it is
// valid for 2 to 3 hours), and every URL of the same object made in that hour is the same string. Pages and feed
// pages kept in the read caches therefore stay correct for the hour they were made in: their cache keys start with
// the bucket (mediaEpoch), so a page is never served with URLs that have expired.
//
// Hand-written (a dozen lines over node:crypto) rather than a package: no maintained package does HMAC-signed URLs
// in this shape, and the check must match our media route's key rules exactly.
import { createHmac, hkdfSync } from "node:crypto";
import { safeEqual } from "../lib/crypto.ts";

const HOUR_MS = 3_600_000;
/** Hours a URL stays valid after the hour it was made in ends. */
const EXTRA_HOURS = 2;
const SIG_BYTES = 16; // 128 bits: a forgery is a guess of the whole tag

const keys = new Map<string, Buffer>();
function keyFor(secret: string): Buffer {
  let key = keys.get(secret);
  if (!key) keys.set(secret, (key = Buffer.from(hkdfSync("sha256", secret, "sidechain-media-v1", "media-url", 32))));
  return key;
}

/** The hour bucket of `now` (ms): the part of the cache keys that changes when signed URLs would. */
export const mediaEpoch = (now: number): number => Math.floor(now / HOUR_MS);

/** When a URL made at `now` (ms) expires, in seconds since the epoch. */
export const mediaExpiry = (now: number): number => ((mediaEpoch(now) + 1 + EXTRA_HOURS) * HOUR_MS) / 1000;

const tag = (secret: string, key: string, exp: number) =>
  createHmac("sha256", keyFor(secret)).update(`${key}\n${exp}`).digest().subarray(0, SIG_BYTES).toString("base64url");

/** The query string that signs `key` for the hour of `now`: `exp=<s>&sig=<base64url>`. */
export function signMediaKey(secret: string, key: string, now: number): string {
  const exp = mediaExpiry(now);
  return `exp=${exp}&sig=${tag(secret, key, exp)}`;
}

export type MediaSignatureCheck = "ok" | "missing" | "invalid" | "expired";

/** Whether a request's `exp` and `sig` sign `key` and have not expired at `now` (ms). */
export function checkMediaSignature(secret: string, key: string, exp: string | null, sig: string | null, now: number): MediaSignatureCheck {
  if (exp === null && sig === null) return "missing";
  if (!exp || !sig || !/^\d{1,12}$/.test(exp)) return "invalid";
  if (!safeEqual(tag(secret, key, Number(exp)), sig)) return "invalid";
  // Checked after the tag, so an expired answer means the URL was really ours.
  return Number(exp) * 1000 <= now ? "expired" : "ok";
}

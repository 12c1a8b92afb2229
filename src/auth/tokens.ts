// Access tokens: JWT HS256 with claims sub (user), sid (session), iat, exp, iss, aud, typ. The algorithm is
// pinned, so `none` and other algorithms are refused; the guard also checks that the session is still live.
import { SignJWT } from "jose";
import { createHmac, timingSafeEqual } from "node:crypto";

const ISSUER = "sidechain";
const AUDIENCE = "sidechain-api";
const TYPE = "access";

export type AccessClaims = { userId: string; sessionId: string };
export type VerifyResult = { ok: true; claims: AccessClaims } | { ok: false; reason: "invalid" | "expired" };

const keys = new Map<string, Uint8Array>();
const keyOf = (secret: string) => {
  let k = keys.get(secret);
  if (!k) keys.set(secret, (k = new TextEncoder().encode(secret)));
  return k;
};

export async function signAccessToken(secret: string, claims: AccessClaims, nowMs: number, ttlS: number) {
  const iat = Math.floor(nowMs / 1000);
  const exp = iat + ttlS;
  const token = await new SignJWT({ sid: claims.sessionId, typ: TYPE })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.userId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(keyOf(secret));
  return { token, expiresAt: new Date(exp * 1000) };
}

/**
 * Verifies an access token. Signing stays with jose; verification is done here with node:crypto's synchronous
 * HMAC because it runs on every authenticated request and jose's WebCrypto path costs ~75 µs per call (a quarter
 * of a signed-in request) against ~5 µs. The checks are jose's, made explicit: the header's alg must be exactly
 * HS256 (so "none" and every other algorithm fail), no `crit` header, a constant-time signature comparison, and
 * only then the claims: iss, aud, typ, sub, sid, iat, exp (and nbf when present). A token that fails the signature
 * is "invalid" even when it is also expired. A token that passed is remembered (checkToken below).
 */
export async function verifyAccessToken(secret: string, token: string, nowMs: number): Promise<VerifyResult> {
  const claims = checkToken(secret, token);
  if (!claims) return { ok: false, reason: "invalid" };
  const nowS = Math.floor(nowMs / 1000);
  if (typeof claims.nbf === "number" && claims.nbf > nowS) return { ok: false, reason: "invalid" };
  if (claims.exp <= nowS) return { ok: false, reason: "expired" };
  return { ok: true, claims: { userId: claims.sub, sessionId: claims.sid } };
}

/** Claims of a well-signed token without the expiry check: only for the plugin's refresh form, which re-checks
 * the session itself. */
export async function verifyIgnoringExpiry(secret: string, token: string): Promise<AccessClaims | null> {
  const claims = checkToken(secret, token);
  return claims ? { userId: claims.sub, sessionId: claims.sid } : null;
}

type Claims = { sub: string; sid: string; exp: number; iat: number; nbf?: number };

function decodeJson(part: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return v && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

const B64URL = /^[A-Za-z0-9_-]+$/;

// Tokens that passed checkToken, per secret: the same string always gives the same answer, and a signed-in client
// sends the same token with every request for its whole lifetime, so its signature and JSON are checked once (the
// time claims are still checked on every call). Only well-signed tokens get in, at most VERIFIED_MAX per secret (oldest out first).
const VERIFIED_MAX = 4096;
const verified = new Map<string, Map<string, Claims>>();

function checkToken(secret: string, token: string): Claims | null {
  let known = verified.get(secret);
  if (!known) verified.set(secret, (known = new Map()));
  const hit = known.get(token);
  if (hit) return hit;
  const claims = checkTokenOnce(secret, token);
  if (claims) {
    if (known.size >= VERIFIED_MAX) known.delete(known.keys().next().value!);
    known.set(token, Object.freeze(claims));
  }
  return claims;
}

/** Signature, algorithm and every claim except the time ones; null when anything is off. */
function checkTokenOnce(secret: string, token: string): Claims | null {
  if (typeof token !== "string" || token.length > 4096) return null;
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return null;
  const [h, p, sig] = parts as [string, string, string];
  const header = decodeJson(h);
  // Pinned algorithm: "none", HS384/HS512 and asymmetric algorithms are refused before any key is used.
  if (!header || header.alg !== "HS256" || "crit" in header || (header.typ !== undefined && header.typ !== "JWT")) return null;
  const expected = createHmac("sha256", secret).update(`${h}.${p}`).digest();
  const given = Buffer.from(sig, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const c = decodeJson(p);
  if (!c || c.iss !== ISSUER || c.typ !== TYPE) return null;
  const audOk = c.aud === AUDIENCE || (Array.isArray(c.aud) && c.aud.includes(AUDIENCE));
  if (!audOk || typeof c.sub !== "string" || typeof c.sid !== "string" || typeof c.exp !== "number" || typeof c.iat !== "number") return null;
  if (c.nbf !== undefined && typeof c.nbf !== "number") return null;
  return c as unknown as Claims;
}

// Access tokens: JWT HS256 with claims sub (user), sid (session), jti (token id), iat, exp, iss, aud, typ. The
// algorithm is pinned, so `none` and other algorithms are refused; the guard also checks that the session is live.
// Three types share the format and never stand in for each other (docs/security.md, Sessions): "access" is the API's
// Bearer token, "browser" is the sc_session cookie of the server's own pages (browser-session.ts), "ws" is the web
// app's single-use ticket for its WebSocket (ws-token.ts: 60 s, accepted by the hub's upgrade only).
import { SignJWT } from "jose";
import { createHmac, timingSafeEqual } from "node:crypto";
import { Lru } from "../lib/lru.ts";

const ISSUER = "sidechain";
const AUDIENCE = "sidechain-api";

export type TokenType = "access" | "browser" | "ws";
const TOKEN_TYPES: readonly unknown[] = ["access", "browser", "ws"] satisfies TokenType[];
/** tokenId is the `jti`: the session remembers its newest one, so only that token can be traded (sessions.ts). */
export type AccessClaims = { userId: string; sessionId: string; tokenId?: string /** iat, ms (set when verified). */; issuedAt?: number };
export type VerifyResult = { ok: true; claims: AccessClaims } | { ok: false; reason: "invalid" | "expired" };

const keys = new Map<string, Uint8Array>();
const keyOf = (secret: string) => {
  let k = keys.get(secret);
  if (!k) keys.set(secret, (k = new TextEncoder().encode(secret)));
  return k;
};

export async function signAccessToken(secret: string, claims: AccessClaims, nowMs: number, ttlS: number, type: TokenType = "access") {
  const iat = Math.floor(nowMs / 1000);
  const exp = iat + ttlS;
  const token = await new SignJWT({ sid: claims.sessionId, typ: type, ...(claims.tokenId ? { jti: claims.tokenId } : {}) })
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
 * Verifies a token of one type ("access" unless told). Signing stays with jose; verification is done here with
 * node:crypto's synchronous HMAC because it runs on every authenticated request and jose's WebCrypto path costs
 * ~75 µs per call (a quarter of a signed-in request) against ~5 µs. The checks are jose's, made explicit: the
 * header's alg must be exactly HS256 (so "none" and every other algorithm fail), no `crit` header, a constant-time
 * signature comparison, and only then the claims: iss, aud, typ, sub, sid, jti, iat, exp (and nbf when present).
 * A token that fails the signature or has another type is "invalid" even when it is also expired. `graceMs` lets
 * a token that expired that recently still pass (only the refresh route's trade uses it). A token that passed is
 * remembered (checkToken below).
 */
export async function verifyAccessToken(
  secret: string,
  token: string,
  nowMs: number,
  opts: { type?: TokenType; graceMs?: number } = {},
): Promise<VerifyResult> {
  const claims = checkToken(secret, token);
  if (!claims || claims.typ !== (opts.type ?? "access")) return { ok: false, reason: "invalid" };
  const nowS = Math.floor(nowMs / 1000);
  if (typeof claims.nbf === "number" && claims.nbf > nowS) return { ok: false, reason: "invalid" };
  if (claims.exp <= Math.floor((nowMs - (opts.graceMs ?? 0)) / 1000)) return { ok: false, reason: "expired" };
  return { ok: true, claims: { userId: claims.sub, sessionId: claims.sid, ...(claims.jti ? { tokenId: claims.jti } : {}), issuedAt: claims.iat * 1000 } };
}

/**
 * The type a token claims, read without checking anything (null when it does not parse): only to choose which
 * verification to run (the hub takes two types); verifyAccessToken then checks it in full, type included.
 */
export function claimedType(token: string): TokenType | null {
  const p = typeof token === "string" && token.length <= 4096 ? token.split(".")[1] : undefined;
  const typ = p && B64URL.test(p) ? decodeJson(p)?.typ : undefined;
  return TOKEN_TYPES.includes(typ) ? (typ as TokenType) : null;
}

type Claims = { typ: TokenType; sub: string; sid: string; jti?: string; exp: number; iat: number; nbf?: number };

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
// time claims are still checked on every call). Only well-signed tokens get in, at most VERIFIED_MAX per secret (least
// recently used out first). A memo of a pure function (the answer depends on the secret and the token only), so it
// stays here rather than in deps.caches.
const VERIFIED_MAX = 4096;
const verified = new Map<string, Lru<string, Claims>>();

function checkToken(secret: string, token: string): Claims | null {
  let known = verified.get(secret);
  if (!known) verified.set(secret, (known = new Lru(VERIFIED_MAX)));
  const hit = known.get(token);
  if (hit) return hit;
  const claims = checkTokenOnce(secret, token);
  if (claims) known.set(token, Object.freeze(claims));
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
  if (header?.alg !== "HS256" || "crit" in header || (header.typ !== undefined && header.typ !== "JWT")) return null;
  const expected = createHmac("sha256", secret).update(`${h}.${p}`).digest();
  const given = Buffer.from(sig, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const c = decodeJson(p);
  if (!c || c.iss !== ISSUER || !TOKEN_TYPES.includes(c.typ)) return null;
  const audOk = c.aud === AUDIENCE || (Array.isArray(c.aud) && c.aud.includes(AUDIENCE));
  if (!audOk || typeof c.sub !== "string" || typeof c.sid !== "string" || typeof c.exp !== "number" || typeof c.iat !== "number") return null;
  if ((c.nbf !== undefined && typeof c.nbf !== "number") || (c.jti !== undefined && typeof c.jti !== "string")) return null;
  return c as unknown as Claims;
}

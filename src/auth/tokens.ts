// Access tokens: JWT HS256 with claims sub (user), sid (session), iat, exp, iss, aud, typ. The algorithm is
// pinned, so `none` and other algorithms are refused; the guard also checks that the session is still live.
import { SignJWT, errors as joseErrors, jwtVerify } from "jose";

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

export async function verifyAccessToken(secret: string, token: string, nowMs: number): Promise<VerifyResult> {
  try {
    const { payload } = await jwtVerify(token, keyOf(secret), {
      algorithms: ["HS256"], // pinned: alg "none" and asymmetric algorithms never verify
      issuer: ISSUER,
      audience: AUDIENCE,
      currentDate: new Date(nowMs),
      requiredClaims: ["sub", "sid", "exp", "iat"],
    });
    if (payload.typ !== TYPE || typeof payload.sid !== "string" || typeof payload.sub !== "string") return { ok: false, reason: "invalid" };
    return { ok: true, claims: { userId: payload.sub, sessionId: payload.sid } };
  } catch (err) {
    return { ok: false, reason: err instanceof joseErrors.JWTExpired ? "expired" : "invalid" };
  }
}

/** Reads claims without verifying: only for the plugin's refresh form, which re-checks the session itself. */
export async function verifyIgnoringExpiry(secret: string, token: string): Promise<AccessClaims | null> {
  try {
    const { payload } = await jwtVerify(token, keyOf(secret), {
      algorithms: ["HS256"],
      issuer: ISSUER,
      audience: AUDIENCE,
      currentDate: new Date(0), // signature, issuer and audience still checked; expiry ignored
    });
    if (payload.typ !== TYPE || typeof payload.sid !== "string" || typeof payload.sub !== "string") return null;
    return { userId: payload.sub, sessionId: payload.sid };
  } catch {
    return null;
  }
}

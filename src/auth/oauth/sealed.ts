// Sealed values: small JSON payloads encrypted and authenticated (JWE, dir + A256GCM, via jose) with a key derived
// from JWT_SECRET for one purpose. The OAuth flow cookie (state + PKCE verifier), the link ticket and the plugin
// approval ticket are sealed, so the browser can carry them but can neither read nor forge them, and every
// instance that shares JWT_SECRET can open them (no server-side store needed for a 10-minute flow).
// The purpose is part of the key derivation, so a value sealed for one purpose never opens as another.
import { CompactEncrypt, compactDecrypt } from "jose";
import { hkdfSync } from "node:crypto";

export type SealPurpose = "oauth-flow" | "oauth-link-ticket" | "oauth-plugin-approval";

const keys = new Map<string, Uint8Array>();
function keyFor(secret: string, purpose: SealPurpose): Uint8Array {
  const id = `${purpose}\u0000${secret}`;
  let key = keys.get(id);
  if (!key) keys.set(id, (key = new Uint8Array(hkdfSync("sha256", secret, "sidechain-sealed-v1", purpose, 32))));
  return key;
}

/** Encrypts `payload` until `expiresAt` (ms). */
export async function seal(secret: string, purpose: SealPurpose, payload: Record<string, unknown>, expiresAt: number): Promise<string> {
  const plaintext = new TextEncoder().encode(JSON.stringify({ ...payload, exp: expiresAt }));
  return new CompactEncrypt(plaintext).setProtectedHeader({ alg: "dir", enc: "A256GCM" }).encrypt(keyFor(secret, purpose));
}

/** The payload, or null when the value is malformed, forged, sealed for another purpose, or expired at `now`. */
export async function unseal<T extends Record<string, unknown>>(
  secret: string,
  purpose: SealPurpose,
  value: string | undefined,
  now: number,
): Promise<(T & { exp: number }) | null> {
  if (!value || value.length > 8192) return null;
  try {
    const { plaintext } = await compactDecrypt(value, keyFor(secret, purpose), { keyManagementAlgorithms: ["dir"], contentEncryptionAlgorithms: ["A256GCM"] });
    const payload = JSON.parse(new TextDecoder().decode(plaintext)) as T & { exp: number };
    if (typeof payload !== "object" || payload === null || typeof payload.exp !== "number" || payload.exp <= now) return null;
    return payload;
  } catch {
    return null;
  }
}

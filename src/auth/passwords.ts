// Passwords: argon2id through Bun.password (64 MiB, t=2 by default: above the OWASP minimum), behind a
// concurrency limit so a burst of logins cannot exhaust memory. Rules: 8–256 characters, no composition rules,
// no truncation, and not one of the most common passwords (list shipped in common-passwords.txt).
import commonList from "./common-passwords.txt" with { type: "text" };
import { createLimiter } from "../lib/limit.ts";
import { randomToken } from "../lib/crypto.ts";

const COMMON = new Set(
  commonList
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean),
);

/** Returns why the password is refused, or null when it is acceptable. */
export function passwordProblem(password: string, context: string[] = []): string | null {
  const length = [...password].length;
  if (length < 8) return "must be at least 8 characters";
  if (length > 256) return "must be at most 256 characters";
  const lower = password.toLowerCase();
  if (COMMON.has(lower)) return "is one of the most common passwords; choose another";
  if (context.some((c) => c && c.length >= 3 && lower === c.toLowerCase())) return "must not be your username or email";
  return null;
}

export type PasswordHasher = {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
  /** Spends the same time as a real verify, for unknown accounts (no enumeration by timing). */
  verifyDummy(password: string): Promise<false>;
};

export function createPasswordHasher(concurrency: number): PasswordHasher {
  const limit = createLimiter(concurrency);
  let dummy: Promise<string> | undefined;
  return {
    hash: (password) => limit(() => Bun.password.hash(password, { algorithm: "argon2id" })),
    verify: (password, hash) => limit(() => Bun.password.verify(password, hash, "argon2id").catch(() => false)),
    async verifyDummy(password) {
      dummy ??= Bun.password.hash(randomToken(), { algorithm: "argon2id" });
      const h = await dummy;
      await limit(() => Bun.password.verify(password, h, "argon2id").catch(() => false));
      return false;
    },
  };
}

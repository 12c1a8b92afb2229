// The limits every password check shares, whichever door it comes through: the API's POST /auth/login and the
// browser sign-in page (/signin). One set per running app (per deps), so a client cannot double its attempts by
// alternating between the two, and the argon2id concurrency limit bounds memory for all of them together.
import type { Deps } from "../deps.ts";
import type { FailureBackoff, WindowLimiter } from "../http/rate-limit.ts";
import { createPasswordHasher, type PasswordHasher } from "./passwords.ts";
import { checkLogin, type LoginResult } from "./service.ts";

export type SharedAuthLimits = {
  hasher: PasswordHasher;
  /** Requests per client IP and route group ("login:<ip>", "register:<ip>", ...). */
  perIp: WindowLimiter;
  /** Failed password checks per account, whichever IP or page they come from. */
  loginBackoff: FailureBackoff;
};

const byDeps = new WeakMap<Deps, SharedAuthLimits>();

export function sharedAuthLimits(deps: Deps): SharedAuthLimits {
  let limits = byDeps.get(deps);
  if (!limits) {
    const { config, clock } = deps;
    limits = {
      hasher: createPasswordHasher(config.PASSWORD_HASH_CONCURRENCY),
      perIp: deps.limits.window({ name: "auth-ip", limit: config.RATE_LIMIT_AUTH_PER_MIN, windowMs: 60_000 }),
      loginBackoff: deps.limits.backoff({ name: "login", freeFailures: config.LOGIN_FAILURES_BEFORE_BACKOFF, maxS: config.LOGIN_BACKOFF_MAX_S }),
    };
    byDeps.set(deps, limits);
  }
  return limits;
}

/**
 * A password check under the per-account backoff: 429 (thrown) while the account is waiting, and every failure
 * lengthens the wait. The same key for every door, so the API and the sign-in page count together.
 */
export async function checkLoginWithBackoff(
  deps: Deps,
  limits: Pick<SharedAuthLimits, "hasher" | "loginBackoff">,
  login: string,
  password: string,
): Promise<LoginResult> {
  const account = `login:${login.trim().toLowerCase()}`;
  await limits.loginBackoff.check(account); // per account, whichever IP the attempts come from
  const result = await checkLogin(deps, limits.hasher, login, password);
  if (result.ok) await limits.loginBackoff.succeed(account);
  else await limits.loginBackoff.fail(account);
  return result;
}

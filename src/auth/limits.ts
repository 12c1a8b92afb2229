// The login backoff every password check shares, whichever door it comes through: the API's POST /auth/login and
// the browser sign-in page (/signin). Its counters (deps.routeLimits, src/http/route-limits.ts) and the argon2id
// hasher (deps.hasher) are one set per running app, so a client cannot double its attempts by alternating between
// the two, and the hashing concurrency bounds memory for all of them together.
//
// Failed logins (docs/security.md, Login backoff) are counted per account, never per identifier as typed: the
// username and the email of one account share one count, and an identifier without an account counts under its
// normalised form, so it behaves exactly like an account (no enumeration). Two counts, so that a stranger cannot
// lock the owner out:
//   - per account AND client IP: after LOGIN_FAILURES_BEFORE_BACKOFF failures that client waits, doubling with each
//     further failure up to LOGIN_BACKOFF_MAX_S. Another client, the owner's included, is not affected;
//   - per account from every client together, with ten times the free failures (ACCOUNT_WIDE_FACTOR): guessing
//     spread over many IPs is slowed the same way, except for clients the account has signed in from before (a
//     session from that IP), so the owner at home still gets in while a botnet waits.
import { and, eq } from "drizzle-orm";
import { sessions } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { checkPasswordOf, findUserByLogin, normalizeLogin, type LoginResult } from "./service.ts";

/** True when the account has signed in from this IP before (any session, live or not). */
async function knownClient(deps: Deps, userId: string, ip: string): Promise<boolean> {
  if (!ip || ip === "unknown") return false;
  const [row] = await deps.database.db
    .select({ id: sessions.id })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), eq(sessions.ip, ip)))
    .limit(1);
  return Boolean(row);
}

/**
 * A password check under the login backoff (above): 429 (thrown) while this client, or every unknown client, must
 * wait for this account; every failure lengthens the wait, a success clears both counts. The same keys for every
 * door, so the API and the sign-in page count together.
 */
export async function checkLoginWithBackoff(deps: Deps, login: string, password: string, ip: string): Promise<LoginResult> {
  const limits = deps.routeLimits;
  const user = await findUserByLogin(deps, login);
  const account = user ? `user:${user.id}` : `login:${normalizeLogin(login)}`;
  const client = `${account}|${ip}`;
  await limits.loginBackoff.check(client);
  try {
    await limits.accountBackoff.check(account);
  } catch (err) {
    if (!user || !(await knownClient(deps, user.id, ip))) throw err;
  }
  const result = await checkPasswordOf(deps.hasher, user, password);
  if (result.ok) await Promise.all([limits.loginBackoff.succeed(client), limits.accountBackoff.succeed(account)]);
  else await Promise.all([limits.loginBackoff.fail(client), limits.accountBackoff.fail(account)]);
  return result;
}

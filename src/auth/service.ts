// Native accounts: register, login, logout, passwords, email verification. Plain functions taking deps first;
// expected failures are thrown as ApiError (the contract's closed set), never as bare errors.
import { and, eq, or } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { linkedProviders, newUserRow, toSelfUser, type UserRow } from "../users/service.ts";
import { mirrorUserUpsert } from "../integrations/stream.ts";
import { mails } from "./mail.ts";
import { createOneTimeToken, invalidateUserTokens, redeemOneTimeToken } from "./one-time.ts";
import { passwordProblem, type PasswordHasher } from "./passwords.ts";
import { createSession, revokeUserSessions, type ClientInfo, type Session, type SessionOptions } from "./sessions.ts";

export const USERNAME = /^[a-z0-9_.-]{3,30}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** L6: linking, unlinking or adding a password while signed in needs a credential proof this recent. */
export const RECENT_AUTH_MS = 10 * 60_000;

export const normalizeEmail = (email: string) => email.trim().toLowerCase();
export const normalizeUsername = (username: string) => username.trim().toLowerCase();

export type AuthPayload = Awaited<ReturnType<typeof authPayload>>;

/** The `{token, refresh_token, expires_at, user}` object of the contract, for a fresh session. */
export async function authPayload(deps: Deps, user: UserRow, client: ClientInfo, db?: Db, opts?: SessionOptions) {
  const tokens = await createSession(deps, user.id, client, db, opts);
  return { token: tokens.token, refresh_token: tokens.refresh_token, expires_at: tokens.expires_at, user: await toSelfUser(deps, user) };
}

export async function findUserByLogin(deps: Deps, login: string): Promise<UserRow | undefined> {
  const key = login.trim().toLowerCase();
  const [u] = await deps.database.db
    .select()
    .from(users)
    .where(or(eq(users.email, key), eq(users.username, key)))
    .limit(1);
  return u;
}

function checkPassword(password: string, context: string[], field = "password") {
  const problem = passwordProblem(password, context);
  if (problem) throw errors.validation({ [field]: `Password ${problem}` }, `Password ${problem}`);
}

/** Tells the owner about a credential or identity change (L7). Best effort: never fails the change itself. */
export async function notifySecurityChange(deps: Deps, user: Pick<UserRow, "email">, what: string) {
  if (!user.email) return;
  await deps.mailer.send(mails.securityChange(user.email, what)).catch((err) => deps.log.warn("security mail failed", { reason: String(err) }));
}

export async function register(
  deps: Deps,
  hasher: PasswordHasher,
  input: { email: string; username: string; password: string; display_name?: string },
  client: ClientInfo,
) {
  if (!deps.config.REGISTRATION_OPEN) throw errors.forbidden("registration_closed", "This server does not accept new accounts");
  const email = normalizeEmail(input.email);
  const username = normalizeUsername(input.username);
  const fields: Record<string, string> = {};
  if (!EMAIL.test(email) || email.length > 254) fields.email = "Not a valid email address";
  if (!USERNAME.test(username)) fields.username = "3 to 30 characters: letters, digits, _ . -";
  const problem = passwordProblem(input.password, [username, email, email.split("@")[0]!]);
  if (problem) fields.password = `Password ${problem}`;
  if (Object.keys(fields).length) throw errors.validation(fields);

  const [existing] = await deps.database.db.select().from(users).where(eq(users.email, email)).limit(1);
  if (existing) {
    // L5: registration never modifies an existing account. The owner is told; an account without a password
    // gets a single-use set-password link (the only way to add one without being signed in).
    const token = existing.passwordHash ? null : await createOneTimeToken(deps, deps.database.db, existing.id, "set_password", email);
    await deps.mailer.send(mails.registrationAttempt(deps.config.PUBLIC_URL, email, existing.username, token, await linkedProviders(deps, existing.id)));
    throw errors.conflict("email_taken", "An account with this email already exists; we sent its owner an email");
  }
  const passwordHash = await hasher.hash(input.password);
  const now = deps.clock.now();
  const user = newUserRow({ email, emailVerified: false, username, displayName: (input.display_name ?? "").trim().slice(0, 60) || username, passwordHash }, now);
  let verifyToken = "";
  let auth: AuthPayload;
  try {
    auth = await deps.database.tx(async (tx) => {
      await tx.insert(users).values(user);
      await mirrorUserUpsert(deps, tx, user.id);
      verifyToken = await createOneTimeToken(deps, tx, user.id, "verify_email", email);
      return authPayload(deps, user, client, tx);
    });
  } catch (err) {
    // Uniqueness is the database's job: a concurrent registration loses here, not in a read-then-write.
    const msg = String((err as Error)?.message ?? err);
    if (/UNIQUE/i.test(msg) && /username/.test(msg)) throw errors.conflict("username_taken", "That username is taken");
    if (/UNIQUE/i.test(msg) && /email/.test(msg)) throw errors.conflict("email_taken", "An account with this email already exists");
    throw err;
  }
  await deps.mailer.send(mails.verifyEmail(deps.config.PUBLIC_URL, email, username, verifyToken));
  return auth;
}

export type LoginResult = { ok: true; user: UserRow } | { ok: false };

/**
 * Checks a login. Unknown account, account without a password and wrong password all cost one argon2id verify
 * and give the same answer: no account enumeration by status, body or time.
 */
export async function checkLogin(deps: Deps, hasher: PasswordHasher, login: string, password: string): Promise<LoginResult> {
  const user = await findUserByLogin(deps, login);
  if (!user?.passwordHash) {
    await hasher.verifyDummy(password);
    return { ok: false };
  }
  return (await hasher.verify(password, user.passwordHash)) ? { ok: true, user } : { ok: false };
}

export async function changePassword(
  deps: Deps,
  hasher: PasswordHasher,
  auth: { user: UserRow; session: Session },
  input: { current_password?: string; new_password: string },
) {
  const { user, session } = auth;
  if (user.passwordHash) {
    if (!input.current_password || !(await hasher.verify(input.current_password, user.passwordHash))) {
      throw errors.unauthorized("invalid_credentials", "The current password is wrong");
    }
  } else if (deps.clock.now() - session.authenticatedAt > RECENT_AUTH_MS) {
    // L6: adding a password while signed in needs a recent sign-in.
    throw errors.forbidden("reauthentication_required", "Sign in again (within the last 10 minutes) to add a password");
  }
  checkPassword(input.new_password, [user.username, user.email ?? ""], "new_password");
  const hash = await hasher.hash(input.new_password);
  await deps.database.tx(async (tx) => {
    await tx.update(users).set({ passwordHash: hash, updatedAt: deps.clock.now() }).where(eq(users.id, user.id));
    // L7: every other session and outstanding one-time token dies; this one stays signed in.
    await revokeUserSessions(deps, user.id, "password_changed", { except: session.id, db: tx });
    await invalidateUserTokens(deps, tx, user.id);
  });
  await notifySecurityChange(deps, user, user.passwordHash ? "your password was changed" : "a password was added");
}

/**
 * Forgot password: the same answer for every email, and the caller does not wait for this to finish (the
 * route starts it without awaiting), so the response time says nothing about the account either.
 */
export async function requestPasswordReset(deps: Deps, emailInput: string) {
  const email = normalizeEmail(emailInput);
  const [user] = await deps.database.db.select().from(users).where(eq(users.email, email)).limit(1);
  if (!user) return;
  if (!user.passwordHash) {
    // An account without a password gets the set-password link instead (L5: the only way to add one).
    const token = await createOneTimeToken(deps, deps.database.db, user.id, "set_password", email);
    await deps.mailer.send(mails.setPassword(deps.config.PUBLIC_URL, email, token));
    return;
  }
  const token = await createOneTimeToken(deps, deps.database.db, user.id, "reset_password", email);
  await deps.mailer.send(mails.resetPassword(deps.config.PUBLIC_URL, email, token));
}

/** Redeems a reset or set-password token: sets the password and signs every session out (L7). */
export async function redeemPasswordToken(deps: Deps, hasher: PasswordHasher, token: string, password: string, purpose: "reset_password" | "set_password") {
  if (typeof token !== "string" || token.length < 20) throw errors.badRequest("invalid_token", "This link is not valid");
  // Check the new password before spending the token, so a refused password does not burn the link.
  checkPassword(password, []);
  const hash = await hasher.hash(password);
  const user = await deps.database.tx(async (tx) => {
    const row = await redeemOneTimeToken(deps, tx, token, purpose);
    if (!row) return null;
    const [u] = await tx.select().from(users).where(eq(users.id, row.userId)).limit(1);
    if (!u) return null;
    checkPassword(password, [u.username, u.email ?? ""]);
    // Redeeming a link mailed to the account's address proves that address.
    const verified = u.emailVerified || (row.email !== null && row.email === u.email);
    await tx.update(users).set({ passwordHash: hash, emailVerified: verified, updatedAt: deps.clock.now() }).where(eq(users.id, u.id));
    await revokeUserSessions(deps, u.id, purpose, { db: tx });
    await invalidateUserTokens(deps, tx, u.id);
    return u;
  });
  if (!user) throw errors.badRequest("invalid_token", "This link is not valid, was already used, or has expired");
  await notifySecurityChange(deps, user, purpose === "reset_password" ? "your password was reset" : "a password was set");
}

export async function verifyEmail(deps: Deps, token: string) {
  if (typeof token !== "string" || token.length < 20) throw errors.badRequest("invalid_token", "This link is not valid");
  const user = await deps.database.tx(async (tx) => {
    const row = await redeemOneTimeToken(deps, tx, token, "verify_email");
    if (!row) return null;
    const [u] = await tx.select().from(users).where(and(eq(users.id, row.userId))).limit(1);
    // The token proves the address it was sent to, and only while that is still the account's address.
    if (!u || !row.email || u.email !== row.email) return null;
    await tx.update(users).set({ emailVerified: true, updatedAt: deps.clock.now() }).where(eq(users.id, u.id));
    // L7: verifying the email is an identity change. Whoever signed in before the address was proven (possibly
    // someone who registered a victim's address) is signed out.
    await revokeUserSessions(deps, u.id, "email_verified", { db: tx });
    await invalidateUserTokens(deps, tx, u.id);
    return u;
  });
  if (!user) throw errors.badRequest("invalid_token", "This link is not valid, was already used, or has expired");
  await notifySecurityChange(deps, user, "your email address was confirmed");
  return user;
}

export async function resendVerification(deps: Deps, user: UserRow) {
  if (!user.email) throw errors.badRequest("no_email", "This account has no email address");
  if (user.emailVerified) return { sent: false };
  const token = await createOneTimeToken(deps, deps.database.db, user.id, "verify_email", user.email);
  await deps.mailer.send(mails.verifyEmail(deps.config.PUBLIC_URL, user.email, user.username, token));
  return { sent: true };
}


export async function findUserById(deps: Deps, id: string): Promise<UserRow> {
  const [u] = await deps.database.db.select().from(users).where(eq(users.id, id)).limit(1);
  if (!u) throw errors.unauthorized("invalid_token", "This account no longer exists");
  return u;
}

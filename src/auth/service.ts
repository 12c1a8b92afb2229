// Native accounts: register, login, logout, passwords, email verification. Plain functions taking deps first;
// expected failures are thrown as ApiError (the contract's closed set), never as bare errors.
import { eq, or } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { instanceSettings } from "../system/settings.ts";
import { insertNewUser, linkedProviders, newUserRow, toSelfUser, type UserRow } from "../users/service.ts";
import { mirrorUserCreated } from "../integrations/stream.ts";
import { emailProblem, normalizeEmail, normalizeText, normalizeUsername, textProblem, truncate, usernameProblem } from "../lib/text.ts";
import { errorFields } from "../log.ts";
import { mailBudgetAllows, mails } from "./mail.ts";
import { createOneTimeToken, findLiveOneTimeToken, redeemOneTimeToken } from "./one-time.ts";
import { passwordProblem, type PasswordHasher } from "./passwords.ts";
import { afterCredentialChange, createSession, type ClientInfo, type Session, type SessionOptions } from "./sessions.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { checkInvite } from "./invites.ts";
import { admitSignup, signupNoteProblem, tellStaffOfSignup } from "./signup.ts";

/** L6: linking, unlinking or adding a password while signed in needs a credential proof this recent. */
export const RECENT_AUTH_MS = 10 * 60_000;

export { normalizeEmail, normalizeUsername } from "../lib/text.ts";

export type AuthPayload = Awaited<ReturnType<typeof authPayload>>;

/** The `{token, refresh_token, expires_at, user}` object of the contract, for a fresh session. */
export async function authPayload(deps: Deps, user: UserRow, client: ClientInfo, db?: Db, opts?: SessionOptions) {
  const tokens = await createSession(deps, user.id, client, db, opts);
  return { token: tokens.token, refresh_token: tokens.refresh_token, expires_at: tokens.expires_at, user: await toSelfUser(deps, user) };
}

/** An email or a username as typed, in the form both are stored in (NFC, trimmed, lower-case). */
export const normalizeLogin = (login: string) => normalizeEmail(login);

export async function findUserByLogin(deps: Deps, login: string): Promise<UserRow | undefined> {
  const key = normalizeLogin(login);
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
  await deps.mailer.send(mails.securityChange(user.email, what)).catch((err) => deps.log.warn("security mail failed", errorFields(err)));
}

export async function register(
  deps: Deps,
  hasher: PasswordHasher,
  input: { email: string; username: string; password: string; display_name?: string; invite?: string; note?: string },
  client: ClientInfo,
  /** The session it starts: an API session, or the web app's browser session ({ tokenType: "browser" }). */
  session?: SessionOptions,
): Promise<RegisterResult> {
  // The mode is checked again in the account's transaction (admitSignup); this early answer spares the work.
  if ((await instanceSettings(deps)).registration === "closed") throw errors.forbidden("registration_closed", "This server does not accept new accounts");
  const email = normalizeEmail(input.email);
  const username = normalizeUsername(input.username);
  const displayName = truncate(normalizeText(input.display_name ?? ""), 60);
  // Every field is checked and every problem named at once (the text rules of src/lib/text.ts).
  const fields: Record<string, string> = {};
  const problems = { email: emailProblem(email), username: usernameProblem(username), display_name: textProblem(displayName) };
  for (const [field, problem] of Object.entries(problems)) if (problem) fields[field] = problem;
  const problem = passwordProblem(input.password, [username, email, email.split("@")[0]!]);
  if (problem) fields.password = `Password ${problem}`;
  const note = normalizeText(input.note ?? "", true);
  const noteProblem = signupNoteProblem(note) ?? (note ? textProblem(note) : null);
  if (noteProblem) fields.note = noteProblem;
  if (Object.keys(fields).length) throw errors.validation(fields);
  // A bad invite is named before anything else is done (it is checked again, and spent, in the transaction).
  if (input.invite) await checkInvite(deps, input.invite);

  const [existing] = await deps.database.db.select().from(users).where(eq(users.email, email)).limit(1);
  if (existing) {
    // L5: registration never modifies an existing account. The owner is told, within the address's hourly mail
    // budget (the same one as reset and verification mails: once it is spent the answer is the same 409 and no
    // mail goes). An account without a password gets a single-use set-password link (the only way to add one
    // without being signed in), issued beside the links already sent: a stranger's attempt cancels none of them.
    if (await mailBudgetAllows(deps, email)) {
      const token = existing.passwordHash ? null : await createOneTimeToken(deps, deps.database.db, existing.id, "set_password", email, { keepOthers: true });
      await deps.mailer.send(mails.registrationAttempt(deps.config.PUBLIC_URL, email, existing.username, token, await linkedProviders(deps, existing.id)));
    }
    throw errors.conflict("email_taken", "An account with this email already exists; we sent its owner an email");
  }
  const passwordHash = await hasher.hash(input.password);
  const now = deps.clock.now();
  let user = newUserRow({ email, emailVerified: false, username, displayName: displayName || username, passwordHash }, now);
  let links = { verify: "", disown: "" };
  let auth: AuthPayload | null;
  try {
    auth = await deps.database.tx(async (tx) => {
      const admission = await admitSignup(deps, tx, { invite: input.invite });
      user = await insertNewUser(tx, {
        ...user,
        approval: admission.approval,
        inviteId: admission.inviteId,
        signupNote: admission.approval === "pending" ? note : "",
      });
      links = await verificationLinks(deps, tx, user.id, email);
      // A waiting account has no session and is not mirrored to Stream.io until staff approve it.
      if (user.approval === "pending") return null;
      await mirrorUserCreated(deps, tx, user.id);
      return authPayload(deps, user, client, tx, session);
    });
  } catch (err) {
    // Uniqueness is the database's job: a concurrent registration loses here, not in a read-then-write.
    if (isUniqueViolation(err, "username")) throw errors.conflict("username_taken", "That username is taken");
    if (isUniqueViolation(err, "email")) throw errors.conflict("email_taken", "An account with this email already exists");
    throw err;
  }
  if (await mailBudgetAllows(deps, email)) await deps.mailer.send(mails.verifyEmail(deps.config.PUBLIC_URL, email, username, links.verify, links.disown));
  else deps.log.info("verification mail not sent: the address's hourly mail budget is spent", { user_id: user.id });
  if (!auth) {
    await tellStaffOfSignup(deps);
    return { status: "pending", user };
  }
  return { status: "active", auth };
}

/** A registration's outcome: signed in, or waiting for staff (approval mode: no session). */
export type RegisterResult = { status: "active"; auth: AuthPayload } | { status: "pending"; user: UserRow };

/** The two links of a verification mail: "Confirm my email" and "This was not me" (newest-only, both). */
async function verificationLinks(deps: Deps, db: Db, userId: string, email: string) {
  return {
    verify: await createOneTimeToken(deps, db, userId, "verify_email", email),
    disown: await createOneTimeToken(deps, db, userId, "disown_account", email),
  };
}

export type LoginResult = { ok: true; user: UserRow } | { ok: false };

/**
 * Checks a login's password for the account it names (or for no account: looked up by findUserByLogin). Unknown
 * account, account without a password and wrong password all cost one argon2id verify and give the same answer:
 * no account enumeration by status, body or time. The login backoff (src/auth/limits.ts) wraps it.
 */
export async function checkPasswordOf(hasher: PasswordHasher, user: UserRow | undefined, password: string): Promise<LoginResult> {
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
    await afterCredentialChange(deps, tx, user.id, "password_changed", session.id);
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
    await afterCredentialChange(deps, tx, u.id, purpose);
    return u;
  });
  if (!user) throw errors.badRequest("invalid_token", "This link is not valid, was already used, or has expired");
  await notifySecurityChange(deps, user, purpose === "reset_password" ? "your password was reset" : "a password was set");
}

/**
 * The account a live mailed link (verification, "this was not me") is for, before anything is spent: what its page
 * shows. Null for a dead link, or when the address it was sent to is no longer the account's address.
 */
export async function accountOfLink(deps: Deps, token: string, purpose: "verify_email" | "disown_account"): Promise<UserRow | null> {
  const row = await findLiveOneTimeToken(deps, token, purpose);
  if (!row?.email) return null;
  const [u] = await deps.database.db.select().from(users).where(eq(users.id, row.userId)).limit(1);
  // The token proves the address it was sent to, and only while that is still the account's address.
  return u && u.email === row.email ? u : null;
}

/**
 * Confirms the address with the mailed token. A password set before the address was proven (at registration)
 * survives only if whoever proves the address also knows it: confirming an account that has a password needs
 * that password (docs/security.md, Pre-hijacking). Otherwise a stranger who registered someone else's address
 * would keep a password on an account its real owner then confirms and links Google to. The token is checked and
 * the password verified before the token is spent, so a mistyped password does not burn the link.
 */
export async function verifyEmail(deps: Deps, hasher: PasswordHasher, token: string, password?: string) {
  const invalid = () => errors.badRequest("invalid_token", "This link is not valid, was already used, or has expired");
  if (typeof token !== "string" || token.length < 20) throw errors.badRequest("invalid_token", "This link is not valid");
  const pending = await accountOfLink(deps, token, "verify_email");
  if (!pending) throw invalid();
  const checkedHash = pending.passwordHash;
  if (checkedHash !== null) {
    if (!password) throw errors.validation({ password: "Enter this account's password to confirm the address" });
    if (!(await hasher.verify(password, checkedHash))) throw errors.unauthorized("invalid_credentials", "That is not this account's password");
  }
  const user = await deps.database.tx(async (tx) => {
    const row = await redeemOneTimeToken(deps, tx, token, "verify_email");
    if (!row) return null;
    const [u] = await tx.select().from(users).where(eq(users.id, row.userId)).limit(1);
    // Still the same address, and still the password that was just checked (not changed in between).
    if (!u || !row.email || u.email !== row.email || u.passwordHash !== checkedHash) return null;
    await tx.update(users).set({ emailVerified: true, updatedAt: deps.clock.now() }).where(eq(users.id, u.id));
    // L7: verifying the email is an identity change: every session is signed out and pending links die.
    await afterCredentialChange(deps, tx, u.id, "email_verified");
    return u;
  });
  if (!user) throw invalid();
  await notifySecurityChange(deps, user, "your email address was confirmed");
  return user;
}

/** Mails a new confirmation link (and a new "this was not me" link); the older ones stop working. */
export async function resendVerification(deps: Deps, user: UserRow) {
  if (!user.email) throw errors.badRequest("no_email", "This account has no email address");
  if (user.emailVerified) return { sent: false };
  const email = user.email;
  const links = await deps.database.tx((tx) => verificationLinks(deps, tx, user.id, email));
  await deps.mailer.send(mails.verifyEmail(deps.config.PUBLIC_URL, email, user.username, links.verify, links.disown));
  return { sent: true };
}

export async function findUserById(deps: Deps, id: string): Promise<UserRow> {
  const [u] = await deps.database.db.select().from(users).where(eq(users.id, id)).limit(1);
  if (!u) throw errors.unauthorized("invalid_token", "This account no longer exists");
  return u;
}

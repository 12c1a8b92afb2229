// Account unification without takeover: rules of docs/security.md, Account linking (L1–L9), all in this file, with a
// comment at each decision. Callers hand in a profile the provider just vouched for (oauth/providers.ts) and a signed-in
// session where one is involved; they never decide about accounts themselves.
//
// Expected refusals are returned as { ok: false, error } (an ApiError of the closed set) so that a JSON route can
// throw it and an HTML page can show its message; multi-row changes run in one transaction (database.tx); mail
// goes out after the commit.
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { identities, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { mirrorUserCreated } from "../integrations/stream.ts";
import { ApiError, errors } from "../http/errors.ts";
import { newId } from "../lib/crypto.ts";
import { PENDING_MESSAGE } from "./models.ts";
import { admitSignup, pendingError, tellStaffOfSignup } from "./signup.ts";
import { insertNewUser, newUserRow, type UserRow } from "../users/service.ts";
import type { Auth } from "./guard.ts";
import { PROVIDER_LABEL, type ProviderName, type ProviderProfile } from "./oauth/providers.ts";
import { cleanName, isReservedUsername, usernameProblem } from "../lib/text.ts";
import { redeemOneTimeToken } from "./one-time.ts";
import { notifySecurityChange, RECENT_AUTH_MS } from "./service.ts";
import { afterCredentialChange } from "./sessions.ts";
import { isUniqueViolation } from "../db/errors.ts";

export type IdentityRow = typeof identities.$inferSelect;
export type Refusal = { ok: false; error: ApiError };

/** How a provider sign-in found its account. */
export type SignInOutcome = "returning" | "auto_linked" | "claimed" | "created";
export type SignInResult = { ok: true; user: UserRow; outcome: SignInOutcome } | Refusal;

const refuse = (error: ApiError): Refusal => ({ ok: false, error });

async function findIdentity(db: Db, provider: ProviderName, providerUserId: string) {
  const [row] = await db
    .select()
    .from(identities)
    .where(and(eq(identities.provider, provider), eq(identities.providerUserId, providerUserId)))
    .limit(1);
  return row;
}

// ── Sign-in with a provider ──────────────────────────────────────────────────────────────────────────────────

/**
 * Finds or creates the account for a provider sign-in. The caller then mints a session for `user` (or hands the
 * result to the plugin / web client). Retries when a concurrent first sign-in of the same person won a unique
 * constraint (identity, email or username): the second pass then finds what the first one created.
 */
export async function signInWithProvider(deps: Deps, profile: ProviderProfile, opts: { invite?: string } = {}): Promise<SignInResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      const { result, notice } = await deps.database.tx((tx) => resolveSignIn(deps, tx, profile, opts.invite));
      if (result.ok && notice) await notifySecurityChange(deps, result.user, notice);
      if (result.ok && result.user.approval === "pending") {
        // A sign-up waiting for staff: the account exists (and a first sign-in just asked), but no session yet.
        if (result.outcome === "created") {
          await tellStaffOfSignup(deps);
          return refuse(errors.forbidden("approval_pending", PENDING_MESSAGE));
        }
        return refuse(pendingError());
      }
      return result;
    } catch (err) {
      if (attempt < 3 && isUniqueViolation(err)) continue;
      // Refused by the community's sign-up mode or the invite (admitSignup): nothing was written.
      if (err instanceof ApiError) return refuse(err);
      throw err;
    }
  }
}

async function resolveSignIn(deps: Deps, tx: Db, profile: ProviderProfile, invite: string | undefined): Promise<{ result: SignInResult; notice?: string }> {
  const now = deps.clock.now();
  const label = PROVIDER_LABEL[profile.provider];

  // L1: the identity is keyed by (provider, provider_user_id). A known identity IS its user, whatever email the
  // provider reports today: an email change at the provider neither moves the identity nor touches the account's
  // email. (Only the identity's own copy, shown in GET /auth/identities, follows a verified provider email.)
  const known = await findIdentity(tx, profile.provider, profile.providerUserId);
  if (known) {
    const [user] = await tx.select().from(users).where(eq(users.id, known.userId)).limit(1);
    if (!user) throw new Error("identity without a user"); // impossible with the foreign key; never a silent re-link
    if (profile.emailVerified && profile.email !== known.email) await tx.update(identities).set({ email: profile.email }).where(eq(identities.id, known.id));
    return { result: { ok: true, user, outcome: "returning" } };
  }

  // L2: the provider's email counts only when the provider says it is verified. Otherwise this sign-in has no
  // email at all: it can only create a new account without one, never attach to an existing account.
  const email = profile.emailVerified ? profile.email : null;
  const identity = { id: newId(), provider: profile.provider, providerUserId: profile.providerUserId, userId: "", email, linkedAt: now };

  if (email) {
    const [match] = await tx.select().from(users).where(eq(users.email, email)).limit(1);
    if (match?.emailVerified) {
      // L3: verified provider email + verified local email → link automatically, and tell the owner.
      const [sameProvider] = await tx
        .select()
        .from(identities)
        .where(and(eq(identities.userId, match.id), eq(identities.provider, profile.provider)))
        .limit(1);
      if (sameProvider) {
        // One identity per provider per account: a second Google account with the same address is refused rather
        // than silently replacing the linked one.
        return {
          result: refuse(
            errors.conflict(
              "provider_account_mismatch",
              `The Sidechain account with this email is linked to a different ${label} account. Sign in with that one.`,
            ),
          ),
        };
      }
      await tx.insert(identities).values({ ...identity, userId: match.id });
      // L7: linking is an identity change: earlier sessions and one-time tokens end; this sign-in gets a new one.
      await afterCredentialChange(deps, tx, match.id, "provider_linked");
      return { result: { ok: true, user: match, outcome: "auto_linked" }, notice: `${label} was linked to your account` };
    }
    if (match) {
      // L4: the local account's email was never proven, so whoever registered it first may be a squatter. The
      // provider sign-in wins, atomically (one transaction): the password goes, other identities go, every
      // session, refresh token, pending one-time token and approved sign-in of the account dies, the email is
      // marked verified (the provider just proved it), and the identity is attached.
      await tx.delete(identities).where(eq(identities.userId, match.id));
      await tx.update(users).set({ passwordHash: null, emailVerified: true, updatedAt: now }).where(eq(users.id, match.id));
      await afterCredentialChange(deps, tx, match.id, "account_claimed_by_provider");
      await tx.insert(identities).values({ ...identity, userId: match.id });
      const user: UserRow = { ...match, passwordHash: null, emailVerified: true, updatedAt: now };
      return {
        result: { ok: true, user, outcome: "claimed" },
        notice: `${label} sign-in was added and confirmed this email address; any earlier password and sign-ins were removed`,
      };
    }
  }

  // No account matches: a new one, when the community's sign-up mode admits it (src/auth/signup.ts: it governs
  // Google/Discord sign-ups too; an invite carried through the flow is spent here). It gets the email only when the
  // provider verified it (L2), and then the email counts as verified. The username comes from the provider's name
  // or the email, made unique.
  const admission = await admitSignup(deps, tx, { invite });
  const username = await uniqueUsername(tx, profile);
  // The provider's name is someone else's text: cleaned of invisible and direction-changing characters, not refused.
  const fresh = newUserRow({ email, emailVerified: email !== null, username, displayName: cleanName(profile.name, 60) || username, passwordHash: null }, now);
  const user = await insertNewUser(tx, { ...fresh, approval: admission.approval, inviteId: admission.inviteId });
  // A waiting account is mirrored to Stream.io when staff approve it.
  if (user.approval === "approved") await mirrorUserCreated(deps, tx, user.id);
  await tx.insert(identities).values({ ...identity, userId: user.id });
  return { result: { ok: true, user, outcome: "created" } };
}

/**
 * A username from the provider's name or the email's local part: lower-cased to [a-z0-9_.-], 3–30, never a
 * reserved name (src/lib/text.ts: "Admin" from Google becomes the email's local part, or "producer").
 */
export function usernameBase(profile: Pick<ProviderProfile, "name" | "email">): string {
  const slug = (s: string) =>
    s
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/\s+/g, "_")
      .replace(/[^a-z0-9_.-]/g, "")
      .replace(/^[._-]+|[._-]+$/g, "")
      .slice(0, 24);
  const padded = (base: string) => (base.length >= 3 ? base : `${base}_producer`.slice(0, 24));
  const bases = [slug(profile.name), slug((profile.email ?? "").split("@")[0] ?? "")].filter(Boolean).map(padded);
  return bases.find((b) => !isReservedUsername(b)) ?? "producer";
}

async function uniqueUsername(tx: Db, profile: ProviderProfile): Promise<string> {
  const base = usernameBase(profile);
  const digits = () => String(1000 + Math.floor(Math.random() * 9000));
  const candidates = [base, ...Array.from({ length: 6 }, () => `${base}_${digits()}`)];
  const taken = new Set((await tx.select({ u: users.username }).from(users).where(inArray(users.username, candidates))).map((r) => r.u));
  const free = candidates.find((c) => !taken.has(c) && usernameProblem(c) === null);
  // The unique constraint still decides: a concurrent sign-in that takes the same name makes the caller retry.
  return free ?? `${base.slice(0, 17)}_${newId().replace(/-/g, "").slice(-12)}`;
}

// ── "This was not me": disowning an unconfirmed registration ───────────────────────────────────────────────────

/**
 * The other half of the pre-hijacking defence (docs/security.md, Pre-hijacking; verifyEmail is the first): the
 * verification mail's "This was not me" link. Redeeming it takes the address off an account whose address was
 * never confirmed, together with everything its registrant set up: the password goes, every session, refresh token,
 * one-time link and approved sign-in of the account ends. The account itself stays (with its username and posts,
 * which are the registrant's) but can no longer be signed in to, receives no more mail for the address, and can
 * never be linked to the address's owner: a later Google sign-in with that address creates a separate account. The
 * address is free to register again. Returns the account's username, or null for a dead link or an account whose
 * address was confirmed meanwhile (by its password holder, who is then its owner).
 */
export async function disownAccount(deps: Deps, token: string): Promise<string | null> {
  if (typeof token !== "string" || token.length < 20 || token.length > 200) return null;
  return deps.database.tx(async (tx) => {
    const row = await redeemOneTimeToken(deps, tx, token, "disown_account");
    if (!row?.email) return null;
    const [user] = await tx.select().from(users).where(eq(users.id, row.userId)).limit(1);
    if (!user || user.emailVerified || user.email !== row.email) return null;
    await tx.update(users).set({ email: null, emailVerified: false, passwordHash: null, updatedAt: deps.clock.now() }).where(eq(users.id, user.id));
    await afterCredentialChange(deps, tx, user.id, "account_disowned");
    deps.log.info("an unconfirmed address was disowned by its mailbox", { user_id: user.id });
    return user.username;
  });
}

// ── Linking to the signed-in account ─────────────────────────────────────────────────────────────────────────

/** Why this session may not link a provider now, or null when it may. Checked at link start and again at the end. */
export function linkRefusal(deps: Deps, auth: Auth): ApiError | null {
  // L8: an account whose email is unverified cannot link providers (it may belong to a squatter, see L4).
  if (!auth.user.emailVerified) return errors.forbidden("email_not_verified", "Confirm your email address before linking Google or Discord");
  // L6: linking needs a session that proved a credential within the last 10 minutes.
  if (deps.clock.now() - auth.session.authenticatedAt > RECENT_AUTH_MS) {
    return errors.forbidden("reauthentication_required", "Sign in again (within the last 10 minutes) to link an account");
  }
  return null;
}

export type LinkResult = { ok: true; created: boolean } | Refusal;

/**
 * Links the provider identity to the signed-in account. `auth` must be the session the OAuth state was bound to
 * (L6): the route reloads it from the flow cookie, so a state started by one session cannot link to another.
 */
export async function linkProvider(deps: Deps, auth: Auth, profile: ProviderProfile): Promise<LinkResult> {
  const refusal = linkRefusal(deps, auth);
  if (refusal) return refuse(refusal);
  const label = PROVIDER_LABEL[profile.provider];
  const result = await deps.database.tx(async (tx): Promise<LinkResult> => {
    const known = await findIdentity(tx, profile.provider, profile.providerUserId);
    // Already linked here: nothing to change (idempotent).
    if (known?.userId === auth.user.id) return { ok: true, created: false };
    // L1: an identity belongs to exactly one account; one linked elsewhere is never moved.
    if (known) return refuse(errors.conflict("identity_in_use", `This ${label} account is already linked to another Sidechain account`));
    const [sameProvider] = await tx
      .select()
      .from(identities)
      .where(and(eq(identities.userId, auth.user.id), eq(identities.provider, profile.provider)))
      .limit(1);
    if (sameProvider) return refuse(errors.conflict("provider_already_linked", `Another ${label} account is linked already; unlink it first`));
    await tx.insert(identities).values({
      id: newId(),
      provider: profile.provider,
      providerUserId: profile.providerUserId,
      userId: auth.user.id,
      // L2: only a verified address is recorded (for display); it never changes the account's own email.
      email: profile.emailVerified ? profile.email : null,
      linkedAt: deps.clock.now(),
    });
    // L7: every other session, refresh token and one-time token ends; this session stays signed in.
    await afterCredentialChange(deps, tx, auth.user.id, "provider_linked", auth.session.id);
    return { ok: true, created: true };
  });
  // L7: the owner is told.
  if (result.ok && result.created) await notifySecurityChange(deps, auth.user, `${label} was linked to your account`);
  return result;
}

// ── Listing and unlinking ────────────────────────────────────────────────────────────────────────────────────

export async function listIdentities(deps: Deps, userId: string): Promise<IdentityRow[]> {
  const rows = await deps.database.db.select().from(identities).where(eq(identities.userId, userId));
  return rows.sort((a, b) => a.provider.localeCompare(b.provider));
}

export async function unlinkProvider(deps: Deps, auth: Auth, provider: ProviderName): Promise<{ ok: true } | Refusal> {
  const label = PROVIDER_LABEL[provider];
  // L6: unlinking needs a session that proved a credential within the last 10 minutes.
  if (deps.clock.now() - auth.session.authenticatedAt > RECENT_AUTH_MS) {
    return refuse(errors.forbidden("reauthentication_required", "Sign in again (within the last 10 minutes) to unlink an account"));
  }
  const result = await deps.database.tx(async (tx): Promise<{ ok: true } | Refusal> => {
    // Read and write in one write transaction, so two concurrent unlinks cannot both pass the L9 check below.
    const linked = await tx.select().from(identities).where(eq(identities.userId, auth.user.id));
    const target = linked.find((i) => i.provider === provider);
    if (!target) return refuse(errors.notFound("identity_not_found", `${label} is not linked to this account`));
    const [user] = await tx.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, auth.user.id)).limit(1);
    // L9: never remove the last way to sign in (no password and no other identity left).
    if (!user?.passwordHash && linked.length === 1) {
      return refuse(
        errors.conflict("last_sign_in_method", `${label} is the only way to sign in to this account: set a password or link another account first`),
      );
    }
    await tx.delete(identities).where(eq(identities.id, target.id));
    // L7: every other session, refresh token and one-time token ends; this session stays signed in.
    await afterCredentialChange(deps, tx, auth.user.id, "provider_unlinked", auth.session.id);
    return { ok: true };
  });
  // L7: the owner is told.
  if (result.ok) await notifySecurityChange(deps, auth.user, `${label} was unlinked from your account`);
  return result;
}

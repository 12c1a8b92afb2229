// /settings (docs/architecture.md "Web app"): a signed-in producer's own account, every part a plain form that works
// without JavaScript, each write a CSRF-checked POST through browserAction that calls the service the API calls:
//   POST /settings/profile           display name, bio, location, genre, DAW, website, activity status (users/profile.ts)
//   POST /settings/avatar            a new picture (multipart; users/avatar.ts: typed by content, bounded, re-encoded)
//   POST /settings/password          change (or add) the password (auth/service.ts changePassword: L6, L7)
//   POST /settings/link/:provider    link Google/Discord: the single-use link URL (auth/oauth/link-start.ts), then 303 to it
//   POST /settings/unlink/:provider  unlink (auth/identity.ts: L6, L9)
//   POST /settings/sessions/:id/revoke  end one of your other sessions; POST /settings/sessions/revoke-others  all of them
// The "Blocked and muted" card's Unblock and Unmute post to /@:username/block and /mute (web/block-actions.ts).
//   /settings/invites                "Invite friends", while members may invite (invite-pages.tsx)
// The page shows each form's outcome (?saved= / ?error=) after the 303, so a reload never posts twice.
import { Elysia } from "elysia";
import { readBrowserSession, signInPath } from "../auth/browser-session.ts";
import type { Auth } from "../auth/guard.ts";
import { listIdentities, unlinkProvider } from "../auth/identity.ts";
import { linkStartUrl } from "../auth/oauth/link-start.ts";
import { getProvider, isProviderName, PROVIDER_LABEL, PROVIDERS } from "../auth/oauth/providers.ts";
import { changePassword } from "../auth/service.ts";
import { listSessions, revokeSession, revokeUserSessions } from "../auth/sessions.ts";
import type { Deps } from "../deps.ts";
import { withCookies } from "../http/cookies.ts";
import { ApiError, errors } from "../http/errors.ts";
import { DiskFile, readUploadForm } from "../http/multipart.ts";
import { bodies, type Declared, MULTIPART_ENVELOPE_BYTES } from "../http/body.ts";
import { AVATAR_MAX_BYTES, setAvatar } from "../users/avatar.ts";
import { PROFILE_LIMITS, updateProfile } from "../users/profile.ts";
import { requestExport } from "../users/export.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { deleteOwnAccount } from "../admin/users.ts";
import { browserAction, pageContext, seeOther, wantsJson, asForm, type Form, formText, refuseOtherBodies } from "./context.ts";
import { htmlResponder, HIDDEN } from "./html.ts";
import { Avatar, Shell } from "./shell.tsx";
import { FormOutcome } from "./ui/outcome.tsx";
import { HiddenLists } from "./ui/block.tsx";
import { listBlocked, listMuted } from "../social/blocks.ts";
import { mayInvite } from "../auth/invites.ts";
import { InviteFriendsSection, invitePages } from "./invite-pages.tsx";

/** The picture's body, as the API's avatar upload reads it: multipart, read in the handler. */
const avatarBody: Declared = { kinds: ["multipart"], maxBytes: AVATAR_MAX_BYTES + MULTIPART_ENVELOPE_BYTES, readInHandler: true };
const str = (v: unknown, max = 2000) => formText(v, max);

/** What the page says after a form: the saved part, or the server's error message. */
const MESSAGES: Record<string, string> = {
  profile: "Profile saved.",
  avatar: "Picture updated.",
  password: "Password changed. Your other sessions were signed out.",
  unlinked: "Unlinked.",
  revoked: "Session ended.",
  "revoked-others": "Every other session was signed out.",
  export: "Your data is being gathered. A link to download it will be mailed to you; it works for 7 days.",
  unblocked: "Unblocked.",
  unmuted: "Unmuted.",
};

function deviceName(userAgent: string): string {
  if (!userAgent) return "Unknown device";
  if (/websocketpp|JUCE|Sidechain/i.test(userAgent)) return "Sidechain plugin";
  const browser = /Firefox\//.test(userAgent)
    ? "Firefox"
    : /Edg\//.test(userAgent)
      ? "Edge"
      : /Chrome\//.test(userAgent)
        ? "Chrome"
        : /Safari\//.test(userAgent)
          ? "Safari"
          : "";
  const os = /Android/.test(userAgent)
    ? "Android"
    : /iPhone|iPad/.test(userAgent)
      ? "iOS"
      : /Mac OS X/.test(userAgent)
        ? "macOS"
        : /Windows/.test(userAgent)
          ? "Windows"
          : /Linux/.test(userAgent)
            ? "Linux"
            : "";
  return [browser, os].filter(Boolean).join(" on ") || userAgent.slice(0, 60);
}

/** The "Blocked and muted" card's people: the 100 most recent of each (README "Blocking and muting"). */
async function hiddenLists(deps: Deps, userId: string) {
  const page = { limit: 100, offset: 0 };
  const [blocked, muted] = await Promise.all([listBlocked(deps, userId, page), listMuted(deps, userId, page)]);
  const people = (rows: typeof blocked) => rows.slice(0, page.limit).map((r) => ({ username: r.user.username, displayName: r.user.displayName }));
  return { blocked: people(blocked), muted: people(muted), more: blocked.length > page.limit || muted.length > page.limit };
}

export const settingsRoutes = (deps: Deps) => {
  const { config } = deps;
  const html = htmlResponder(deps);
  const instance = deps.caches.instance;
  const trusted = parseTrustedProxies(config.TRUSTED_PROXIES);

  const page = async (request: Request, query: { saved?: string; error?: string }) => {
    const ctx = await pageContext(deps, request);
    if (!ctx.auth) return seeOther(signInPath("/settings"));
    const { auth, csrf } = ctx;
    const u = auth.user;
    const [sessions, identities, hidden, canInvite] = await Promise.all([
      listSessions(deps, u.id),
      listIdentities(deps, u.id),
      hiddenLists(deps, u.id),
      mayInvite(deps, u),
    ]);
    const linked = new Set(identities.map((i) => i.provider));
    const providers = PROVIDERS.filter((p) => getProvider(config, p) || linked.has(p));
    const saved = query.saved && MESSAGES[query.saved];
    const error = query.error ? str(query.error, 300) : "";
    const Csrf = () => <input type="hidden" name="csrf" value={csrf.token} />;
    const body = await (
      <Shell title="Settings" instance={instance} viewer={ctx.viewer} path="/settings" csrf={csrf.token} narrow>
        <h1>Settings</h1>
        <FormOutcome saved={saved || undefined} error={error || undefined} />

        <section class="card" aria-labelledby="s-profile">
          <h2 id="s-profile">Profile</h2>
          <form method="post" action="/settings/profile">
            <Csrf />
            <label for="display_name">Display name</label>
            <input id="display_name" name="display_name" value={u.displayName} maxlength={String(PROFILE_LIMITS.display_name)} autocomplete="name" />
            <label for="bio">Bio</label>
            <textarea id="bio" name="bio" rows="3" maxlength={String(PROFILE_LIMITS.bio)} safe>
              {u.bio}
            </textarea>
            <label for="location">Location</label>
            <input id="location" name="location" value={u.location} maxlength={String(PROFILE_LIMITS.location)} />
            <label for="genre">Genre</label>
            <input id="genre" name="genre" value={u.genre} maxlength={String(PROFILE_LIMITS.genre)} />
            <label for="daw">DAW</label>
            <input id="daw" name="daw" value={u.daw} maxlength={String(PROFILE_LIMITS.daw)} />
            <label for="website">Website</label>
            <input id="website" name="website" type="url" value={u.website} maxlength={String(PROFILE_LIMITS.website)} placeholder="https://" />
            <label class="row">
              <input type="checkbox" name="show_activity_status" value="1" checked={u.showActivityStatus} />
              Show followers when I am online or in the studio
            </label>
            <button type="submit" class="block">
              Save profile
            </button>
          </form>
        </section>

        <section class="card" aria-labelledby="s-avatar">
          <h2 id="s-avatar">Picture</h2>
          <div class="row">
            <Avatar url={u.avatarKey ? deps.mediaUrl(u.avatarKey) : ""} name={u.displayName || u.username} large />
            <form method="post" action="/settings/avatar" enctype="multipart/form-data">
              <Csrf />
              <label for="avatar">PNG, JPEG, GIF or WebP, up to {AVATAR_MAX_BYTES / 2 ** 20} MB</label>
              <input id="avatar" name="file" type="file" accept="image/png,image/jpeg,image/gif,image/webp" required />
              <button type="submit">Upload picture</button>
            </form>
          </div>
        </section>

        <section class="card" aria-labelledby="s-password">
          <h2 id="s-password">{u.passwordHash ? "Password" : "Add a password"}</h2>
          <form method="post" action="/settings/password">
            <Csrf />
            <input type="text" name="username" value={u.username} autocomplete="username" hidden />
            {u.passwordHash ? (
              <>
                <label for="current_password">Current password</label>
                <input id="current_password" name="current_password" type="password" autocomplete="current-password" required />
              </>
            ) : (
              ""
            )}
            <label for="new_password">New password</label>
            <input id="new_password" name="new_password" type="password" autocomplete="new-password" minlength="10" required />
            <button type="submit" class="block">
              {u.passwordHash ? "Change password" : "Add password"}
            </button>
          </form>
        </section>

        {providers.length ? (
          <section class="card" aria-labelledby="s-linked">
            <h2 id="s-linked">Linked accounts</h2>
            <ul class="stack plain">
              {providers.map((p) => (
                <li class="row">
                  <span safe>{PROVIDER_LABEL[p]}</span>
                  <form method="post" action={`/settings/${linked.has(p) ? "unlink" : "link"}/${p}`}>
                    <Csrf />
                    <button type="submit" class="secondary" safe>
                      {`${linked.has(p) ? "Unlink" : "Link"} ${PROVIDER_LABEL[p]}`}
                    </button>
                  </form>
                </li>
              ))}
            </ul>
          </section>
        ) : (
          ""
        )}

        {canInvite ? <InviteFriendsSection /> : ""}

        <section class="card" aria-labelledby="s-data">
          <h2 id="s-data">Your data</h2>
          <p class="muted">
            One zip with your profile, your loops (each original and its MP3), whom you follow and who follows you, whom you block and mute, your reactions,
            saved loops and plays. The download link is mailed to you; once a day. Your <a href="/saved">saved loops</a> are on their own page.
          </p>
          <form method="post" action="/settings/export">
            <Csrf />
            <button type="submit" class="secondary">
              Download my data
            </button>
          </form>
        </section>

        <section class="card" aria-labelledby="s-sessions">
          <h2 id="s-sessions">Where you are signed in</h2>
          <ul class="stack plain">
            {sessions
              .sort((a, b) => b.lastUsedAt - a.lastUsedAt)
              .map((s) => (
                <li class="row">
                  <div>
                    <strong safe>{deviceName(s.userAgent)}</strong>
                    <div class="muted">
                      {s.id === auth.session.id ? "This browser · " : ""}
                      last active{" "}
                      <time datetime={new Date(s.lastUsedAt).toISOString()} safe>
                        {new Date(s.lastUsedAt).toISOString().slice(0, 16).replace("T", " ")}
                      </time>
                    </div>
                  </div>
                  {s.id === auth.session.id ? (
                    ""
                  ) : (
                    <form method="post" action={`/settings/sessions/${s.id}/revoke`}>
                      <Csrf />
                      <button type="submit" class="secondary" aria-label={`Sign out ${deviceName(s.userAgent)}`}>
                        Sign out
                      </button>
                    </form>
                  )}
                </li>
              ))}
          </ul>
          {sessions.length > 1 ? (
            <form method="post" action="/settings/sessions/revoke-others">
              <Csrf />
              <button type="submit" class="secondary block">
                Sign out everywhere else
              </button>
            </form>
          ) : (
            ""
          )}
        </section>

        <HiddenLists {...hidden} csrf={csrf.token} />

        <section class="card" aria-labelledby="s-delete">
          <h2 id="s-delete">Delete your account</h2>
          <p class="muted">Your loops (and their audio), follows, reactions and plays go with it, for good. Download your data first if you want to keep it.</p>
          <form method="post" action="/settings/delete">
            <Csrf />
            {u.passwordHash ? (
              <>
                <label for="delete_password">Your password</label>
                <input id="delete_password" name="password" type="password" autocomplete="current-password" required />
              </>
            ) : (
              <p class="muted">Without a password, sign in again with Google or Discord first (within 10 minutes).</p>
            )}
            <label>
              <input type="checkbox" name="confirm" value="1" required /> I understand this cannot be undone
            </label>
            <button type="submit" class="secondary">
              Delete my account
            </button>
          </form>
        </section>
      </Shell>
    );
    return withCookies(html(body, { cache: "no-store" }), [csrf.setCookie]);
  };

  /** A settings write: the service's refusal becomes ?error=, success ?saved=. */
  const save = (request: Request, form: Form, saved: string, act: (auth: Auth) => Promise<unknown>) =>
    browserAction(deps, request, form, `/settings?saved=${saved}`, act, {
      onError: (err) => `/settings?error=${encodeURIComponent(err.message)}`,
    });

  return new Elysia({ name: "web-settings" })
    .use(bodies(deps.config.BODY_MAX_BYTES))
    .use(invitePages(deps))
    .get("/settings", ({ request, query }) => page(request, query as { saved?: string; error?: string }), HIDDEN)
    .post(
      "/settings/profile",
      ({ request, body }) => {
        const f = asForm(body);
        return save(request, f, "profile", (auth) =>
          updateProfile(deps, auth.user, {
            display_name: str(f.display_name),
            bio: str(f.bio),
            location: str(f.location),
            genre: str(f.genre),
            daw: str(f.daw),
            website: str(f.website),
            show_activity_status: f.show_activity_status === "1",
          }).then(() => ({ ok: true })),
        );
      },
      HIDDEN,
    )
    .post(
      "/settings/password",
      ({ request, body }) => {
        const f = asForm(body);
        return save(request, f, "password", (auth) =>
          changePassword(deps, deps.hasher, auth, {
            current_password: str(f.current_password, 1024) || undefined,
            new_password: str(f.new_password, 1024),
          }).then(() => ({ ok: true })),
        );
      },
      HIDDEN,
    )
    .post(
      "/settings/link/:provider",
      async ({ request, body, params }) => {
        const f = asForm(body);
        let url = "";
        const res = await save(request, f, "linked", async (auth) => {
          if (!isProviderName(params.provider)) throw errors.notFound("provider_disabled", "No such provider");
          url = (await linkStartUrl(deps, auth, params.provider)).url;
          return { url };
        });
        // A plain form goes on to the provider; the script gets the URL in the JSON.
        return url && res.status === 303 ? new Response(null, { status: 303, headers: { location: url, "cache-control": "no-store" } }) : res;
      },
      HIDDEN,
    )
    .post(
      "/settings/unlink/:provider",
      ({ request, body, params }) =>
        save(request, asForm(body), "unlinked", async (auth) => {
          if (!isProviderName(params.provider)) throw errors.notFound("identity_not_found", "No such provider is linked to this account");
          const r = await unlinkProvider(deps, auth, params.provider);
          if (!r.ok) throw r.error;
          return { ok: true };
        }),
      HIDDEN,
    )
    .post(
      "/settings/sessions/:id/revoke",
      ({ request, body, params }) =>
        save(request, asForm(body), "revoked", async (auth) => {
          if (params.id === auth.session.id) throw errors.badRequest("current_session", "Use Sign out to end this session");
          const mine = (await listSessions(deps, auth.user.id)).some((s) => s.id === params.id);
          if (!mine) throw errors.notFound("session_not_found", "No such session");
          await revokeSession(deps, auth.user.id, params.id, "logout");
          return { ok: true };
        }),
      HIDDEN,
    )
    .post(
      "/settings/export",
      ({ request, body }) =>
        save(request, asForm(body), "export", async (auth) => {
          // The same daily budget as POST /api/v1/users/me/export.
          await deps.routeLimits.hit("exports", { ip: clientIp(request, trusted), userId: auth.user.id });
          return requestExport(deps, auth.user);
        }),
      HIDDEN,
    )
    .post(
      "/settings/delete",
      ({ request, body }) => {
        const f = asForm(body);
        // Gone: back to the home page, signed out (the session went with the account).
        return browserAction(
          deps,
          request,
          f,
          "/",
          async (auth) => {
            if (f.confirm !== "1") throw errors.validation({ confirm: "Tick the box to confirm: this cannot be undone" });
            return deleteOwnAccount(deps, auth, str(f.password, 1024) || undefined);
          },
          { onError: (err) => `/settings?error=${encodeURIComponent(err.message)}` },
        );
      },
      HIDDEN,
    )
    .post(
      "/settings/sessions/revoke-others",
      ({ request, body }) =>
        save(request, asForm(body), "revoked-others", async (auth) => {
          await revokeUserSessions(deps, auth.user.id, "logout_others", { except: auth.session.id });
          return { ok: true };
        }),
      HIDDEN,
    )
    .post(
      "/settings/avatar",
      async ({ request }) => {
        // Read only for a signed-in user within the rate limit (as the API's avatar upload), streamed to a temp file
        // within AVATAR_MAX_BYTES; the CSRF field is in the form, checked by browserAction before anything is stored.
        const refused = refuseOtherBodies(request, avatarBody);
        if (refused) return refused;
        const auth = await readBrowserSession(deps, request);
        if (!auth) return seeOther(signInPath("/settings"));
        try {
          await deps.routeLimits.hit("avatars", { userId: auth.user.id, ip: "" });
          return await deps.ffmpeg.withTempDir(async (dir) => {
            const fields = await readUploadForm(request, avatarBody, dir);
            return save(request, fields, "avatar", async (a) => {
              const file = fields.file;
              if (!(file instanceof DiskFile)) throw errors.validation({ file: "Choose a picture" });
              return { url: (await setAvatar(deps, a.user.id, file.blob())).url };
            });
          });
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          return wantsJson(request) ? err.toResponse({ "cache-control": "no-store" }) : seeOther(`/settings?error=${encodeURIComponent(err.message)}`);
        }
      },
      { ...HIDDEN, accepts: avatarBody },
    );
};

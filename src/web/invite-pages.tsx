// "Invite friends" (README "Invites and approval"): a member's own invite links, while the owner lets members invite
// (staff always may), mounted by /settings (settings-routes.tsx), which links here:
//   GET  /settings/invites             my invite links (uses, expiry, state) and the form that makes one
//   POST /settings/invites             make one: the answer is this page showing the new link once (it is not kept)
//   POST /settings/invites/:id/revoke  stop one of mine
import { Elysia } from "elysia";
import { readBrowserSession, signInPath } from "../auth/browser-session.ts";
import { createInvite, listInvites, MEMBER_LIMITS, mayInvite, revokeInvite, STAFF_LIMITS } from "../auth/invites.ts";
import type { Deps } from "../deps.ts";
import { withCookies } from "../http/cookies.ts";
import { ApiError, errors } from "../http/errors.ts";
import { isStaff } from "../users/service.ts";
import { asForm, browserAction, formText, pageContext, seeOther } from "./context.ts";
import { HIDDEN, htmlResponder } from "./html.ts";
import { csrfOk } from "./layout.ts";
import { Shell } from "./shell.tsx";
import { InviteList, inviteFormInput, NewInviteForm, NewInviteLink } from "./ui/invites.tsx";
import { FormOutcome } from "./ui/outcome.tsx";

/** The part of /settings that leads here, for someone who may invite. */
export function InviteFriendsSection(): JSX.Element {
  return (
    <section class="card" aria-labelledby="s-invite">
      <h2 id="s-invite">Invite friends</h2>
      <p class="muted">Make a link that lets a friend create an account here, even while sign-ups are by invitation only.</p>
      <a class="button secondary" href="/settings/invites">
        Your invite links
      </a>
    </section>
  ) as JSX.Element;
}

/**
 * The "Make the link" form's POST, for this page and /admin/invites: not a browserAction with its 303, because the
 * answer is the page itself showing the new link once (the code is not kept). Refusals go back to `back?error=`.
 */
export async function makeInviteFromForm(
  deps: Deps,
  request: Request,
  body: unknown,
  back: string,
  staffOnly: boolean,
  show: (url: string) => Promise<Response>,
): Promise<Response> {
  const f = asForm(body);
  const auth = await readBrowserSession(deps, request);
  if (!auth) return seeOther(signInPath(back));
  const fail = (message: string) => seeOther(`${back}?error=${encodeURIComponent(message)}`);
  if (!csrfOk(request, f)) return fail("This form has expired or did not come from this site; nothing was made");
  try {
    await deps.routeLimits.hit("invites", { ip: "", userId: auth.user.id }); // the budget of POST /api/v1/invites
    if (staffOnly && !isStaff(auth.user)) throw errors.forbidden("staff_only", "Only the community's staff may do this");
    return await show((await createInvite(deps, auth.user, inviteFormInput(f))).url);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return fail(err.fields ? `${err.message}: ${Object.values(err.fields).join("; ")}` : err.message);
  }
}

export const invitePages = (deps: Deps) => {
  const html = htmlResponder(deps);
  const instance = deps.caches.instance;
  const back = "/settings/invites";

  const page = async (request: Request, query: { saved?: string; error?: string }, created?: string) => {
    const ctx = await pageContext(deps, request);
    if (!ctx.auth) return seeOther(signInPath(back));
    const u = ctx.auth.user;
    const allowed = await mayInvite(deps, u);
    const limits = isStaff(u) ? STAFF_LIMITS : MEMBER_LIMITS;
    const mine = await listInvites(deps, { creatorId: u.id, limit: 100 });
    const body = await (
      <Shell title="Invite friends" instance={instance} viewer={ctx.viewer} path={back} csrf={ctx.csrf.token} narrow>
        <h1>Invite friends</h1>
        <FormOutcome saved={query.saved ? formText(query.saved, 100) : undefined} error={query.error ? formText(query.error, 300) : undefined} />
        {created ? <NewInviteLink url={created} /> : ""}
        {allowed ? (
          <>
            {isStaff(u) ? (
              ""
            ) : (
              <p class="muted" safe>{`Members may have ${MEMBER_LIMITS.live} live links, each for up to ${MEMBER_LIMITS.maxUses} people and 7 days.`}</p>
            )}
            <NewInviteForm action={back} csrf={ctx.csrf.token} maxUses={limits.maxUses} maxDays={limits.maxHours / 24} />
          </>
        ) : (
          <p class="notice">On this server only the staff may make invite links now.</p>
        )}
        <h2>Your invite links</h2>
        <InviteList invites={mine} now={deps.clock.now()} csrf={ctx.csrf.token} revokeBase={back} />
      </Shell>
    );
    return withCookies(html(body, { cache: "no-store" }), [ctx.csrf.setCookie]);
  };

  return new Elysia({ name: "web-invites" })
    .get(back, ({ request, query }) => page(request, query as { saved?: string; error?: string }), HIDDEN)
    .post(
      back,
      ({ request, body }) => makeInviteFromForm(deps, request, body, back, false, (url) => page(request, { saved: "Invite link made." }, url)),
      HIDDEN,
    )
    .post(
      `${back}/:id/revoke`,
      ({ request, body, params }) =>
        browserAction(
          deps,
          request,
          asForm(body),
          `${back}?saved=${encodeURIComponent("Invite revoked.")}`,
          (auth) => revokeInvite(deps, auth.user, params.id),
          {
            onError: (err) => `${back}?error=${encodeURIComponent(err.message)}`,
          },
        ),
      HIDDEN,
    );
};

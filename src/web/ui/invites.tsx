// The invite parts of the staff's /admin/invites and a member's /settings/invites (README "Invites and approval"):
// the list (uses, expiry, maker, state, who joined, a Revoke button), the form that makes one, and the new link,
// shown once right after it is made (only a hash of its code is kept).
import { type InviteView, inviteState } from "../../auth/invites.ts";

const when = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 16);
const STATE_TEXT = { live: "live", used_up: "used up", expired: "expired", revoked: "revoked" } as const;

/** The link just made, with a note that it is shown only now. */
export function NewInviteLink(p: { url: string }): JSX.Element {
  return (
    <section class="card notice ok" aria-labelledby="new-invite">
      <h2 id="new-invite">Your new invite link</h2>
      <p>
        <label for="invite-url">Copy it now: it is shown only once.</label>
        <input id="invite-url" readonly value={p.url} />
      </p>
    </section>
  ) as JSX.Element;
}

/** Uses and days, within the maker's limits. */
export function NewInviteForm(p: { action: string; csrf: string; maxUses: number; maxDays: number }): JSX.Element {
  return (
    <form method="post" action={p.action} class="card">
      <input type="hidden" name="csrf" value={p.csrf} />
      <h2>Make an invite link</h2>
      <label for="max_uses" safe>{`How many people may use it (1 to ${p.maxUses})`}</label>
      <input id="max_uses" name="max_uses" type="number" min="1" max={String(p.maxUses)} value="1" required />
      <label for="expires_days" safe>{`Days it works (1 to ${p.maxDays})`}</label>
      <input id="expires_days" name="expires_days" type="number" min="1" max={String(p.maxDays)} value={String(Math.min(7, p.maxDays))} required />
      <button type="submit">Make the link</button>
    </form>
  ) as JSX.Element;
}

/** The invites, newest first; live ones have a Revoke button posting to `${revokeBase}/{id}/revoke`. */
export function InviteList(p: { invites: InviteView[]; now: number; csrf: string; revokeBase: string; joined?: Map<string, string[]> }): JSX.Element {
  if (!p.invites.length) return (<p class="muted">No invite links yet.</p>) as JSX.Element;
  return (
    <ul class="plain">
      {p.invites.map((i) => {
        const state = inviteState(i, p.now);
        const joined = p.joined?.get(i.id) ?? [];
        const joinedText: string = joined.length ? `Joined through it: ${joined.map((u) => `@${u}`).join(", ")}` : "Nobody joined through it yet.";
        return (
          <li class="card">
            <p>
              <strong safe>{`${i.uses} of ${i.maxUses} used`}</strong>{" "}
              <span class="muted" safe>{`· ${STATE_TEXT[state]} · by @${i.creatorUsername} · made ${when(i.createdAt)} · expires ${when(i.expiresAt)}`}</span>
            </p>
            {p.joined ? (
              <p class="muted" safe>
                {joinedText}
              </p>
            ) : (
              ""
            )}
            {state === "live" ? (
              <form method="post" action={`${p.revokeBase}/${i.id}/revoke`}>
                <input type="hidden" name="csrf" value={p.csrf} />
                <button type="submit" class="secondary" aria-label={`Revoke the invite made ${when(i.createdAt)}`}>
                  Revoke
                </button>
              </form>
            ) : (
              ""
            )}
          </li>
        );
      })}
    </ul>
  ) as JSX.Element;
}

/** The form's numbers as the service takes them (a bad one is named by the service's validation). */
export const inviteFormInput = (f: Record<string, unknown>) => {
  const n = (v: unknown) => (typeof v === "string" && /^\d{1,5}$/.test(v.trim()) ? Number(v.trim()) : Number.NaN);
  return { max_uses: n(f.max_uses), expires_in_hours: n(f.expires_days) * 24 };
};

// Blocking and muting in the web app (README "Blocking and muting"): plain forms that work without JavaScript, each
// posting to /@{username}/block (field block = 1 or 0) or /@{username}/mute (mute = 1 or 0) with the CSRF token
// (web/block-actions.ts), and a 303 back to the page. Blocking asks to confirm: the Block control is a disclosure
// (details/summary) whose panel says what a block does and holds the real button, so no script is needed.
//   HideControls   on a producer's page: Mute or Unmute, and Block…
//   BlockedNotice  the page a blocker sees instead of the producer's page: Unblock
//   HiddenLists    the "Blocked and muted" card of /settings, each with its Unblock or Unmute
import type { Relation } from "../../social/block-states.ts";

function Toggle(p: { username: string; what: "block" | "mute"; on: boolean; csrf: string; label: string; next?: string; secondary?: boolean }): JSX.Element {
  return (
    <form method="post" action={`/@${p.username}/${p.what}`}>
      <input type="hidden" name="csrf" value={p.csrf} />
      <input type="hidden" name={p.what} value={p.on ? "1" : "0"} />
      {p.next ? <input type="hidden" name="next" value={p.next} /> : ""}
      <button type="submit" class={p.secondary === false ? "danger" : "secondary"} safe>
        {p.label}
      </button>
    </form>
  ) as JSX.Element;
}

/** Mute/Unmute and Block… for a signed-in viewer on someone else's page. */
export function HideControls(p: { username: string; relation: Relation; csrf: string }): JSX.Element {
  const { username, relation, csrf } = p;
  return (
    <div class="hide-controls">
      <Toggle username={username} what="mute" on={!relation.muting} csrf={csrf} label={relation.muting ? `Unmute @${username}` : `Mute @${username}`} />
      <details class="confirm">
        <summary class="button secondary" safe>{`Block @${username}…`}</summary>
        <div class="confirm-panel">
          <p safe>
            {`You and @${username} will no longer see each other's loops, pages or activity, and follows between you are removed. ` +
              "They are not told. You can unblock them later from Settings."}
          </p>
          <Toggle username={username} what="block" on={true} csrf={csrf} label={`Block @${username}`} secondary={false} />
        </div>
      </details>
    </div>
  ) as JSX.Element;
}

/** What a blocker sees at the blocked producer's address: who it is and how to undo it, nothing of theirs. */
export function BlockedNotice(p: { username: string; csrf: string }): JSX.Element {
  return (
    <>
      <h1 safe>{`@${p.username}`}</h1>
      <p class="notice" role="status" safe>
        {`You blocked @${p.username}. Neither of you sees the other's loops, pages or activity.`}
      </p>
      <Toggle username={p.username} what="block" on={false} csrf={p.csrf} label={`Unblock @${p.username}`} />
    </>
  ) as JSX.Element;
}

type Listed = { username: string; displayName: string };

function HiddenList(p: { id: string; title: string; empty: string; people: Listed[]; what: "block" | "mute"; csrf: string }): JSX.Element {
  return (
    <>
      <h3 id={p.id} safe>
        {p.title}
      </h3>
      {p.people.length === 0 ? (
        <p class="muted" safe>
          {p.empty}
        </p>
      ) : (
        <ul class="stack plain" aria-labelledby={p.id}>
          {p.people.map((u) => (
            <li class="row">
              <div>
                <strong safe>{u.displayName || u.username}</strong> <span class="muted" safe>{`@${u.username}`}</span>
              </div>
              <Toggle
                username={u.username}
                what={p.what}
                on={false}
                csrf={p.csrf}
                label={`${p.what === "block" ? "Unblock" : "Unmute"} @${u.username}`}
                next={`/settings?saved=${p.what === "block" ? "unblocked" : "unmuted"}#s-hidden`}
              />
            </li>
          ))}
        </ul>
      )}
    </>
  ) as JSX.Element;
}

/** The /settings card: whom you block and whom you mute (the newest first), each with its undo button. */
export function HiddenLists(p: { blocked: Listed[]; muted: Listed[]; more: boolean; csrf: string }): JSX.Element {
  return (
    <section class="card hidden-lists" aria-labelledby="s-hidden">
      <h2 id="s-hidden">Blocked and muted</h2>
      <HiddenList id="s-blocked" title="Blocked" empty="You block nobody." people={p.blocked} what="block" csrf={p.csrf} />
      <HiddenList id="s-muted" title="Muted" empty="You mute nobody." people={p.muted} what="mute" csrf={p.csrf} />
      {p.more ? <p class="muted">The 100 most recent of each are shown; the API lists them all (GET /api/v1/social/blocks and /social/mutes).</p> : ""}
    </section>
  ) as JSX.Element;
}

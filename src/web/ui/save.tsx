// The loop page's own toggles, each a plain form (works without the script) whose hidden field asks for the other
// state, the state in the button's label and aria-pressed: 🔖 Save (README "Saved loops", posted to /l/:id/save,
// web/saved-routes.tsx), for the loop's producer 📌 Pin (README "Pinned loops", /l/:id/pin, web/pin-actions.ts), and
// for everyone else 🔁 Repost (README "Reposts", /l/:id/repost, web/repost-actions.ts).
import { signInPath } from "../../auth/browser-session.ts";
import { QUOTE_MAX } from "../../social/reposts.ts";
import type { PostT } from "../../posts/models.ts";

/** A one-button form that sets `field` to the opposite of `on` (the web app's save, pin, repost and comment-like). */
export function Toggle(p: { action: string; field: string; on: boolean; csrf?: string; label: [on: string, off: string]; next?: string }): JSX.Element {
  return (
    <form method="post" action={p.action} class="toggle">
      <input type="hidden" name="csrf" value={p.csrf ?? ""} />
      {p.next ? <input type="hidden" name="next" value={p.next} /> : ""}
      <input type="hidden" name={p.field} value={p.on ? "0" : "1"} />
      <button type="submit" class="secondary" aria-pressed={p.on ? "true" : "false"} safe>
        {p.on ? p.label[0] : p.label[1]}
      </button>
    </form>
  ) as JSX.Element;
}

export function SaveButton(p: { post: Pick<PostT, "id" | "is_saved">; signedIn: boolean; csrf?: string }): JSX.Element {
  if (!p.signedIn)
    return (
      <a class="button secondary" href={signInPath(`/l/${p.post.id}`)}>
        🔖 Sign in to save
      </a>
    ) as JSX.Element;
  return <Toggle action={`/l/${p.post.id}/save`} field="save" on={p.post.is_saved} csrf={p.csrf} label={["🔖 Saved", "🔖 Save"]} />;
}

export function PinButton(p: { post: Pick<PostT, "id" | "is_pinned">; csrf?: string }): JSX.Element {
  return (
    <Toggle action={`/l/${p.post.id}/pin`} field="pin" on={p.post.is_pinned} csrf={p.csrf} label={["📌 Pinned to your profile", "📌 Pin to your profile"]} />
  );
}

export function RepostButton(p: { post: Pick<PostT, "id" | "is_reposted">; signedIn: boolean; csrf?: string }): JSX.Element {
  if (!p.signedIn)
    return (
      <a class="button secondary" href={signInPath(`/l/${p.post.id}`)}>
        🔁 Sign in to repost
      </a>
    ) as JSX.Element;
  const toggle = (
    <Toggle action={`/l/${p.post.id}/repost`} field="repost" on={p.post.is_reposted} csrf={p.csrf} label={["🔁 Reposted to your followers", "🔁 Repost"]} />
  );
  if (p.post.is_reposted) return toggle as JSX.Element;
  return (
    <>
      {toggle as "safe"}
      <details class="repost-quote">
        <summary>Repost with a quote</summary>
        <form method="post" action={`/l/${p.post.id}/repost`} class="comment-form">
          <input type="hidden" name="csrf" value={p.csrf ?? ""} />
          <input type="hidden" name="repost" value="1" />
          <label for="repost-quote">Your quote, shown to your followers above the loop</label>
          <textarea id="repost-quote" name="quote" rows="2" maxlength={String(QUOTE_MAX)} required />
          <button type="submit">🔁 Repost with this quote</button>
        </form>
      </details>
    </>
  ) as JSX.Element;
}

// The loop page's 🔖 Save toggle (README "Saved loops"), posted to /l/:id/save (web/saved-routes.tsx).
import { signInPath } from "../../auth/browser-session.ts";
import type { PostT } from "../../posts/models.ts";

/** The loop page's Save toggle: a plain form (works without the script), the state in its label and aria-pressed. */
export function SaveButton(p: { post: Pick<PostT, "id" | "is_saved" | "save_count">; signedIn: boolean; csrf?: string }): JSX.Element {
  if (!p.signedIn)
    return (
      <a class="button secondary" href={signInPath(`/l/${p.post.id}`)}>
        🔖 Sign in to save
      </a>
    ) as JSX.Element;
  return (
    <form method="post" action={`/l/${p.post.id}/save`} class="save">
      <input type="hidden" name="csrf" value={p.csrf ?? ""} />
      <input type="hidden" name="save" value={p.post.is_saved ? "0" : "1"} />
      <button type="submit" class="secondary" aria-pressed={p.post.is_saved ? "true" : "false"}>
        {p.post.is_saved ? "🔖 Saved" : "🔖 Save"}
      </button>
    </form>
  ) as JSX.Element;
}

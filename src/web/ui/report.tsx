// "Report" on a loop's page and a producer's profile (README "Reports"): a disclosure (<details>, no script needed)
// holding a form that posts to /report (web/report-routes.tsx) with the CSRF token, the target, a reason (radio
// buttons, the API's reasons) and an optional note (the API's limit). Never on your own loop or profile; signed out,
// a link to the sign-in page that comes back here. The answer is a page saying what happened.
import { REPORT_REASONS, type ReportReason } from "../../admin/reports.ts";
import type { PostT } from "../../posts/models.ts";
import type { PublicUserT } from "../../users/models.ts";

/** The words for each reason, as a member reads them. */
export const REASON_LABEL: Record<ReportReason, string> = {
  spam: "Spam or advertising",
  harassment: "Harassment or hate",
  copyright: "Not theirs to post (copyright)",
  inappropriate: "Inappropriate content",
  other: "Something else",
};
/** The longest note the API takes (src/admin/reports.ts). */
export const NOTE_MAX = 1000;

type Target = { type: "post" | "user"; id: string; back: string };
type Of = { post: Pick<PostT, "id" | "is_own_post"> } | { user: Pick<PublicUserT, "id" | "username">; own: boolean };

/** Report for a loop (`post`; yours has none) or a producer (`user`, with `own` when it is you). */
export function ReportControl(p: Of & { signedIn: boolean; csrf?: string }): JSX.Element {
  if ("post" in p ? p.post.is_own_post : p.own) return "" as unknown as JSX.Element;
  const target: Target = "post" in p ? { type: "post", id: p.post.id, back: `/l/${p.post.id}` } : { type: "user", id: p.user.id, back: `/@${p.user.username}` };
  const what = "post" in p ? "this loop" : `@${p.user.username}`;
  if (!p.signedIn || !p.csrf) {
    return (
      <p class="report">
        <a class="report-link" href={`/signin?next=${encodeURIComponent(target.back)}`} safe>
          {`Report ${what}`}
        </a>
      </p>
    ) as JSX.Element;
  }
  const id = `report-${target.type}`;
  return (
    <details class="report">
      <summary class="report-link" safe>{`Report ${what}`}</summary>
      <form method="post" action="/report" class="report-form">
        <input type="hidden" name="csrf" value={p.csrf} />
        <input type="hidden" name="target_type" value={target.type} />
        <input type="hidden" name="target_id" value={target.id} />
        <input type="hidden" name="next" value={target.back} />
        <fieldset>
          <legend safe>{`Why are you reporting ${what}?`}</legend>
          {REPORT_REASONS.map((r, i) => (
            <label class="row" for={`${id}-${r}`}>
              <input type="radio" id={`${id}-${r}`} name="reason" value={r} required={i === 0} />
              <span safe>{REASON_LABEL[r]}</span>
            </label>
          ))}
        </fieldset>
        <label for={`${id}-note`}>Anything the staff should know (optional)</label>
        <textarea id={`${id}-note`} name="note" rows="3" maxlength={String(NOTE_MAX)} />
        <p class="muted">Only the staff see your report; the producer is not told who sent it.</p>
        <button type="submit">Send report</button>
      </form>
    </details>
  ) as JSX.Element;
}

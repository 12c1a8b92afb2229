// The comments under a loop's player (README "Comments"): the loop's top-level comments, oldest first, each with its
// replies; a form to comment (and, in a disclosure under each comment, to reply), optionally at a moment of the loop;
// Like, Edit (your own, within the edit window) and Delete on what the viewer may. Plain forms (no script needed)
// posting to /l/:id/comments, /comments/:id/like, /comments/:id/edit and /comments/:id/remove (web/comment-actions.tsx)
// with the CSRF token. PAGE_COMMENTS top-level comments a page; links page through the rest (?comments=N). Signed out: a link to sign in and come back.
// When comment_audience keeps the viewer out, the form says so instead. Comments pinned to a moment also get a marker
// each in a strip (hidden without a script) that the player script moves under the loop's waveform and places at
// its moment (web/client/player.ts): clicking one plays from there and shows the comment.
import { COMMENT_MAX, type CommentList, type CommentT } from "../../social/comments.ts";
import type { PostT } from "../../posts/models.ts";
import { Toggle } from "./save.tsx";

/** Top-level comments a page of the loop page shows. */
export const PAGE_COMMENTS = 50;

/** "0:04", "1:12". */
const at = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};

/** Who may write here, as the service decides it (social/comments.ts): the form or the reason there is none. */
function audienceNote(post: PostT, audience: string): string | null {
  if (audience === "off") return "The producer turned comments off for this loop.";
  if (audience === "followers" && !post.is_own_post && !post.is_following) return "Only the producer's followers can comment on this loop.";
  return null;
}

type Ctx = { post: PostT; csrf?: string; canWrite: boolean; back: string };

function Form(p: Ctx & { parent?: CommentT }): JSX.Element {
  const id = p.parent ? `reply-${p.parent.id}` : "comment";
  const seconds = Math.floor(p.post.duration_seconds ?? 0);
  return (
    <form method="post" action={`/l/${p.post.id}/comments`} class="comment-form" id={p.parent ? undefined : "comment-form"}>
      <input type="hidden" name="csrf" value={p.csrf ?? ""} />
      {p.parent ? <input type="hidden" name="parent_id" value={p.parent.id} /> : ""}
      <label for={`${id}-content`}>{p.parent ? "Your reply" : "Your comment"}</label>
      <textarea id={`${id}-content`} name="content" rows="3" maxlength={String(COMMENT_MAX)} required />
      {p.parent ? (
        ""
      ) : (
        <>
          <label for={`${id}-at`}>At a moment of the loop, in seconds (optional)</label>
          <input id={`${id}-at`} name="at" type="number" min="0" max={String(seconds)} step="0.1" inputmode="decimal" />
        </>
      )}
      <button type="submit">{p.parent ? "Reply" : "Comment"}</button>
    </form>
  ) as JSX.Element;
}

function Item(p: Ctx & { c: CommentT }): JSX.Element {
  const { c } = p;
  const name = c.display_name || c.username;
  return (
    <li class="comment" id={`c-${c.id}`} data-comment={c.id} data-at-ms={c.at_ms === null ? undefined : String(c.at_ms)}>
      <p class="comment-head">
        <a href={`/@${c.username}`} safe>
          {name}
        </a>{" "}
        <time class="muted" datetime={c.created_at} safe>
          {c.created_at.slice(0, 10)}
        </time>
        {c.at_ms === null ? "" : <span class="comment-at muted" safe>{` at ${at(c.at_ms)}`}</span>}
        {c.is_edited ? <span class="muted"> (edited)</span> : ""}
      </p>
      <p class="comment-text" safe>
        {c.content}
      </p>
      <div class="comment-actions">
        {p.csrf ? (
          <Toggle
            action={`/comments/${c.id}/like`}
            field="like"
            on={c.is_liked}
            csrf={p.csrf}
            label={[`♥ Liked · ${c.like_count}`, `♡ Like · ${c.like_count}`]}
            next={`${p.back}#c-${c.id}`}
          />
        ) : c.like_count ? (
          <span class="muted" safe>{`♥ ${c.like_count}`}</span>
        ) : (
          ""
        )}
        {c.can_delete && p.csrf ? (
          <form method="post" action={`/comments/${c.id}/remove`} class="comment-delete">
            <input type="hidden" name="csrf" value={p.csrf} />
            <input type="hidden" name="next" value={`${p.back}#comments`} />
            <button type="submit" class="secondary" aria-label={`Delete the comment by ${name}`}>
              Delete
            </button>
          </form>
        ) : (
          ""
        )}
      </div>
      {c.can_edit && p.csrf ? (
        <details class="comment-edit">
          <summary>Edit</summary>
          <form method="post" action={`/comments/${c.id}/edit`} class="comment-form">
            <input type="hidden" name="csrf" value={p.csrf} />
            <input type="hidden" name="next" value={`${p.back}#c-${c.id}`} />
            <label for={`edit-${c.id}`}>Your comment</label>
            <textarea id={`edit-${c.id}`} name="content" rows="3" maxlength={String(COMMENT_MAX)} required safe>
              {c.content}
            </textarea>
            <button type="submit">Save</button>
          </form>
        </details>
      ) : (
        ""
      )}
      {c.replies.length ? (
        <ol class="comments replies">
          {c.replies.map((r) => (
            <Item {...p} c={r} />
          ))}
        </ol>
      ) : (
        ""
      )}
      {c.parent_id === "" && p.canWrite ? (
        <details class="comment-reply">
          <summary safe>{`Reply to ${name}`}</summary>
          <Form {...p} parent={c} />
        </details>
      ) : (
        ""
      )}
    </li>
  ) as JSX.Element;
}

/** The markers of the comments pinned to a moment (the player script shows and places them). */
function Markers(p: { post: PostT; list: CommentList }): JSX.Element {
  const pinned = p.list.comments.flatMap((c) => [c, ...c.replies]).filter((c) => c.at_ms !== null);
  if (!pinned.length) return "" as unknown as JSX.Element;
  return (
    <div class="comment-markers" data-markers-for={p.post.id} hidden>
      {pinned.map((c) => (
        <a class="marker" href={`#c-${c.id}`} data-marker data-at-ms={String(c.at_ms)} title={`${c.display_name || c.username} at ${at(c.at_ms!)}`}>
          <span class="visually-hidden" safe>{`Comment by ${c.display_name || c.username} at ${at(c.at_ms!)}`}</span>
        </a>
      ))}
    </div>
  ) as JSX.Element;
}

/** Links to the pages of comments before and after this one (?comments=N), when there are any. */
function Pages(p: { post: PostT; page: number; more: boolean }): JSX.Element {
  if (p.page === 1 && !p.more) return "" as unknown as JSX.Element;
  const href = (n: number) => `/l/${p.post.id}${n > 1 ? `?comments=${n}` : ""}#comments`;
  return (
    <nav class="comment-pages" aria-label="Pages of comments">
      {p.page > 1 ? <a href={href(p.page - 1)}>← Earlier comments</a> : ""}
      <span class="muted" safe>{`Page ${p.page}`}</span>
      {p.more ? <a href={href(p.page + 1)}>Later comments →</a> : ""}
    </nav>
  ) as JSX.Element;
}

/**
 * The section under the player. `list` is page `page` (from 1) of the loop's comments as the viewer sees them,
 * `audience` the loop's comment_audience.
 */
export function Comments(p: { post: PostT; audience: string; list: CommentList; page: number; signedIn: boolean; csrf?: string }): JSX.Element {
  const note = audienceNote(p.post, p.audience);
  const back = `/l/${p.post.id}${p.page > 1 ? `?comments=${p.page}` : ""}`;
  const ctx: Ctx = { post: p.post, csrf: p.csrf, canWrite: p.signedIn && Boolean(p.csrf) && note === null, back };
  return (
    <section id="comments" class="card comments-section" aria-labelledby="comments-heading">
      <h2 id="comments-heading" safe>{`Comments (${p.post.comment_count})`}</h2>
      <Markers post={p.post} list={p.list} />
      {p.list.comments.length ? (
        <ol class="comments">
          {p.list.comments.map((c) => (
            <Item {...ctx} c={c} />
          ))}
        </ol>
      ) : (
        <p class="muted">No comments yet.</p>
      )}
      <Pages post={p.post} page={p.page} more={p.list.has_more} />
      {!p.signedIn ? (
        <p>
          <a href={`/signin?next=${encodeURIComponent(`/l/${p.post.id}#comments`)}`}>Sign in to comment</a>
        </p>
      ) : note ? (
        <p class="muted" safe>
          {note}
        </p>
      ) : (
        <Form {...ctx} />
      )}
    </section>
  ) as JSX.Element;
}

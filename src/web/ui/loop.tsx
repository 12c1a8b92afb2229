// A loop as the web app shows it: the player (one component for feed cards, the loop page and the embed), the
// card around it, and the reaction bar. The player's markup is its contract with src/web/client/player.ts
// (docs/architecture.md "Web app"): data-* attributes carry the MP3, the peaks and the titles; the buttons are
// named for screen readers ("Play {title}"); without JavaScript a plain <audio> element plays the MP3.
import { REACTION_EMOJI } from "../../social/reactions.ts";
import { loopFacts, type PostT } from "../../posts/models.ts";
import { Avatar } from "../shell.tsx";

/** "8 bars · 92 BPM · A minor", whatever of it is known. */

export const displayName = (p: PostT) => p.user.display_name || p.user.username;

export function Player(p: { post: PostT; artwork?: string }): JSX.Element {
  const { post } = p;
  const title = post.filename || "Untitled loop";
  const seconds = Math.round(post.duration_seconds * 100) / 100;
  return (
    <div
      class="player"
      data-player
      data-id={post.id}
      data-src={post.mp3_url}
      data-peaks={post.peaks_url}
      data-title={title}
      data-artist={`${displayName(post)} (@${post.username})`}
      data-art={p.artwork ?? post.waveform_url}
      data-duration={String(seconds)}
    >
      <button type="button" class="play" data-play aria-label={`Play ${title}`}>
        <span aria-hidden="true">▶</span>
      </button>
      <canvas
        class="wave"
        data-wave
        role="slider"
        tabindex="0"
        aria-label={`Seek in ${title}`}
        aria-valuemin="0"
        aria-valuemax={String(seconds)}
        aria-valuenow="0"
        aria-valuetext="0:00"
        width="600"
        height="112"
      />
      <button type="button" class="loop-toggle" data-loop aria-pressed="true" aria-label={`Loop ${title}`}>
        <span aria-hidden="true">⟲</span>
      </button>
      <noscript>
        {/* biome-ignore lint/a11y/useMediaCaption: an instrumental loop has no words to caption */}
        <audio controls="" loop={true} preload="none" src={post.mp3_url} />
      </noscript>
    </div>
  ) as JSX.Element;
}

/** The six reactions with their counts. Signed in: a form per loop (the emoji a button's name and value) that
 *  the client script sends without leaving the page; anonymous: links to sign in. */
export function Reactions(p: { post: PostT; csrf?: string; signedIn: boolean }): JSX.Element {
  const { post } = p;
  const counts = post.reaction_counts ?? {};
  if (!p.signedIn) {
    // A visitor sees the reactions the loop has and one way in: signing in (a page of six sign-in links per card
    // would weigh more than the card).
    const shown = REACTION_EMOJI.filter((emoji) => (counts[emoji] ?? 0) > 0);
    return (
      <div class="reactions" data-reactions={post.id}>
        {shown.map((emoji) => (
          <span class="reaction">
            {emoji} <span class="count">{counts[emoji] ?? 0}</span>
          </span>
        ))}
        <a class="button secondary" href={`/signin?next=${encodeURIComponent(`/l/${post.id}`)}`}>
          Sign in to react
        </a>
      </div>
    ) as JSX.Element;
  }
  return (
    <form class="reactions" method="post" action={`/l/${post.id}/react`} data-reactions={post.id} aria-label="Reactions">
      <input type="hidden" name="csrf" value={p.csrf ?? ""} />
      {REACTION_EMOJI.map((emoji) => {
        const n = counts[emoji] ?? 0;
        return (
          <button type="submit" name="emoji" value={emoji} aria-pressed={post.user_reaction === emoji ? "true" : "false"} data-emoji={emoji}>
            <span>{emoji}</span> <span class="count">{n ? n : ""}</span>
          </button>
        );
      })}
    </form>
  ) as JSX.Element;
}

/** Plays (updated in place by the script, data-plays) and the day it was posted. */
export function LoopStats(p: { post: PostT }): JSX.Element {
  const { post } = p;
  return (
    <p class="stats">
      <span data-plays={post.id} safe>
        {`${post.play_count} ${post.play_count === 1 ? "play" : "plays"}`}
      </span>
      {post.repost_count ? <span safe>{` · ${post.repost_count} ${post.repost_count === 1 ? "repost" : "reposts"}`}</span> : ""}
      {" · "}
      <time datetime={post.created_at} safe>
        {post.created_at.slice(0, 10)}
      </time>
    </p>
  ) as JSX.Element;
}

/** Above a timeline entry that is there because someone the viewer follows reposted it (README "Reposts"). */
function RepostedBy(p: { by: NonNullable<PostT["reposted_by"]>; quote: string }): JSX.Element {
  return (
    <p class="reposted muted">
      {"🔁 reposted by "}
      <a href={`/@${p.by.username}`} safe>
        {`@${p.by.username}`}
      </a>
      {p.quote ? <q safe>{p.quote}</q> : ""}
    </p>
  ) as JSX.Element;
}

/** A loop in a list: who made it, the player, its title and facts, reactions and plays. */
export function LoopCard(p: { post: PostT; csrf?: string; signedIn: boolean; headingLevel?: 2 | 3 }): JSX.Element {
  const { post } = p;
  const title = post.filename || "Untitled loop";
  const facts = [...loopFacts(post), post.daw, ...post.genres].filter(Boolean);
  const heading = (
    <a href={`/l/${post.id}`} safe>
      {title}
    </a>
  );
  return (
    <li class="card loop" data-post={post.id}>
      {post.reposted_by ? <RepostedBy by={post.reposted_by} quote={post.repost_quote ?? ""} /> : ""}
      <div class="byline">
        <Avatar url={post.user.avatar_url} name={displayName(post)} />
        <div>
          <a href={`/@${post.username}`} safe>
            {displayName(post)}
          </a>
          <div class="muted">
            <span safe>{`@${post.username}`}</span>
            {post.is_in_studio ? (
              <>
                {" "}
                <span class="presence in_studio" data-presence={post.user_id} title="In the studio" /> in the studio
              </>
            ) : (
              <span class={`presence ${post.is_online ? "online" : "offline"}`} data-presence={post.user_id} />
            )}
          </div>
        </div>
      </div>
      {p.headingLevel === 3 ? <h3 class="title">{heading}</h3> : <h2 class="title">{heading}</h2>}
      <Player post={post} />
      <ul class="meta" aria-label="About this loop">
        {facts.map((f) => (
          <li safe>{f}</li>
        ))}
      </ul>
      <Reactions post={post} csrf={p.csrf} signedIn={p.signedIn} />
      <LoopStats post={post} />
    </li>
  ) as JSX.Element;
}

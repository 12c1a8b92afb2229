// The home page's row of stories (README "Stories"): the signed-in member's own entry, then the producers they
// follow with stories they have not heard; each opens /stories/u/:id (src/web/story-routes.tsx).
import type { StoryGroupT } from "../../stories/service.ts";
import { Avatar } from "../shell.tsx";

/** The home page's row: your own entry (to your stories, or to post one), then everyone with stories you have not heard. */
export function StoriesRow(p: { groups: StoryGroupT[]; me: { id: string; username: string; avatarUrl: string } }): JSX.Element {
  const mine = p.groups.find((g) => g.user_id === p.me.id);
  const unheard = p.groups.filter((g) => g.user_id !== p.me.id && g.has_unviewed);
  return (
    <section aria-labelledby="stories-now" class="stories">
      <h2 id="stories-now">Stories</h2>
      <ul class="studio-list story-list">
        <li>
          <a href={mine ? `/stories/u/${p.me.id}` : "/stories/new"} data-own-story>
            <span class={mine ? "story-ring" : "story-ring add"}>
              <Avatar url={p.me.avatarUrl} name={p.me.username} />
            </span>
            <span>{mine ? "Your story" : "Add a story"}</span>
          </a>
        </li>
        {unheard.map((g) => (
          <li>
            <a href={`/stories/u/${g.user_id}`} data-story-group={g.user_id}>
              <span class="story-ring unseen">
                <Avatar url={g.avatar_url} name={g.display_name || g.username} />
              </span>
              <span safe>{g.display_name || g.username}</span>
            </a>
          </li>
        ))}
      </ul>
    </section>
  ) as JSX.Element;
}

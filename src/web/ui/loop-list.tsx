// A page of loops as the feeds' cards (LoopCard), with a "More loops" link to the next page when there is one (the
// pager that client/scroll.ts follows near the viewport), or a sentence when there is none: the search and discover
// pages' lists.
import type { PostT } from "../../posts/models.ts";
import { LoopCard } from "./loop.tsx";

export function LoopList(p: { posts: PostT[]; csrf?: string; signedIn: boolean; more: string | null; empty: string }): JSX.Element {
  if (!p.posts.length)
    return (
      <p class="empty" safe>
        {p.empty}
      </p>
    ) as JSX.Element;
  return (
    <ul class="loops">
      {p.posts.map((post) => (
        <LoopCard post={post} csrf={p.csrf} signedIn={p.signedIn} headingLevel={3} />
      ))}
      {p.more ? (
        <li class="pager">
          <a class="more button secondary" href={p.more}>
            More loops
          </a>
        </li>
      ) : (
        ""
      )}
    </ul>
  ) as JSX.Element;
}

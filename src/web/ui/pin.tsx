// The "Pinned" list that opens a producer's profile (README "Pinned loops"); the owner's 📌 toggle is in ui/save.tsx.
import type { PostT } from "../../posts/models.ts";
import { LoopCard } from "./loop.tsx";

export function PinnedLoops(p: { posts: PostT[]; csrf?: string; signedIn: boolean }): JSX.Element {
  if (!p.posts.length) return "" as unknown as JSX.Element;
  return (
    <>
      <h2 id="pinned">Pinned</h2>
      <ul class="loops" aria-labelledby="pinned">
        {p.posts.map((post) => (
          <LoopCard post={post} csrf={p.csrf} signedIn={p.signedIn} headingLevel={3} />
        ))}
      </ul>
    </>
  ) as JSX.Element;
}

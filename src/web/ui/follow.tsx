// The follow button (docs/architecture.md "Web app"): a form posting to /@{username}/follow (web/social-actions.ts)
// with the CSRF token and `follow` = 1 or 0, which the client script (web/client/forms.ts) sends without leaving
// the page. The button's name stays "Follow {username}" and aria-pressed says whether you do, the pattern screen
// readers announce as a toggle ("Follow mira, toggle button, pressed"). Its visible text stays "Follow" too (the
// visible words must be part of the name, WCAG 2.5.3 "Label in Name"; a "Following" text is not): the pressed
// state shows as the button's style and a check mark drawn by the stylesheet, which is not part of the name.
// Elements with data-follower-count="{username}" show the follower count, which the script updates in place.

export function FollowButton(p: { username: string; following: boolean; csrf: string; next?: string }): JSX.Element {
  return (
    <form class="follow-form" method="post" action={`/@${p.username}/follow`} data-follow={p.username}>
      <input type="hidden" name="csrf" value={p.csrf} />
      <input type="hidden" name="follow" value={p.following ? "0" : "1"} data-follow-value />
      {p.next ? <input type="hidden" name="next" value={p.next} /> : ""}
      <button type="submit" class="follow" aria-pressed={p.following ? "true" : "false"} aria-label={`Follow ${p.username}`}>
        Follow
      </button>
    </form>
  ) as JSX.Element;
}

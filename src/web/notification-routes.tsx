// The notifications page (docs/architecture.md "Web app"):
//   GET  /notifications        your notifications, newest first, grouped as GET /api/v1/notifications groups them
//                              (who, what, which loop, when; unread ones marked), "More" pages through. Opening the
//                              page marks them seen, which empties the header's badge (it counts unseen ones).
//   POST /notifications/read   "Mark all as read" (CSRF, browserAction): markNotifications, as the API's route.
import { Elysia, t } from "elysia";
import { readBrowserSession, signInPath } from "../auth/browser-session.ts";
import type { Deps } from "../deps.ts";
import { withCookies } from "../http/cookies.ts";
import { ApiError } from "../http/errors.ts";
import { pageOf, parsePage } from "../http/pagination.ts";
import { groupNotifications, listNotifications, markNotifications, type NotificationGroupT, notificationCounts } from "../social/notifications.ts";
import { browserAction, seeOther, viewerOf, browserActionDoc, asForm } from "./context.ts";
import { htmlResponder, HIDDEN } from "./html.ts";
import { csrfFor } from "./layout.ts";
import { Avatar, Shell } from "./shell.tsx";

const PAGE_SIZE = 20;

/** "just now", "5 min ago", "3 h ago", "2 d ago", then the date. */
export function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 86400 * 30) return `${Math.floor(s / 86400)} d ago`;
  return iso.slice(0, 10);
}

type Names = Map<string, string>;

function Group(p: { g: NotificationGroupT; names: Names; now: number }): JSX.Element {
  const { g } = p;
  const first = g.actor_usernames[0]!;
  const others = g.actor_count - 1;
  const loop = g.target_preview || "your loop";
  const what =
    g.verb === "follow" ? (
      " followed you"
    ) : g.verb === "like" ? (
      <>
        {" reacted "}
        <span safe>{g.content_text}</span>
        {" to "}
        <a href={`/l/${g.target_id}`} safe>
          {loop}
        </a>
      </>
    ) : g.verb === "repost" ? (
      <>
        {" reposted "}
        <a href={`/l/${g.target_id}`} safe>
          {loop}
        </a>
      </>
    ) : g.verb === "comment" || g.verb === "mention" ? (
      <>
        {g.verb === "mention" ? " mentioned you on " : g.target_type === "comment" ? " replied to your comment on " : " commented on "}
        <a href={`/l/${g.post_id}#comments`} safe>
          {loop}
        </a>
        {g.content_text ? <q safe>{g.content_text}</q> : ""}
      </>
    ) : (
      <>
        {" posted "}
        <a href={`/l/${g.target_id}`} safe>
          {g.target_preview || "a new loop"}
        </a>
      </>
    );
  return (
    <li class={`card notification${g.is_read ? "" : " unread"}`}>
      <Avatar url={g.actor_avatar_urls[0] ?? ""} name={p.names.get(g.actor_ids[0]!) ?? first} />
      <div>
        <p>
          {g.is_read ? "" : <span class="visually-hidden">Unread: </span>}
          <a href={`/@${first}`} safe>
            {p.names.get(g.actor_ids[0]!) ?? first}
          </a>
          {others ? <span safe>{others === 1 ? " and 1 other" : ` and ${others} others`}</span> : ""}
          {what as "safe"}
        </p>
        <time class="muted" datetime={g.created_at} safe>
          {ago(g.created_at, p.now)}
        </time>
      </div>
    </li>
  ) as JSX.Element;
}

export const notificationPages = (deps: Deps) => {
  const { config } = deps;
  const html = htmlResponder(deps);
  const instance = deps.caches.instance;

  const page = async (request: Request, query: { cursor?: string }) => {
    const auth = await readBrowserSession(deps, request);
    if (!auth) return seeOther(signInPath("/notifications"));
    const userId = auth.user.id;
    const p = (() => {
      try {
        return parsePage({ limit: String(PAGE_SIZE), cursor: query.cursor || undefined });
      } catch (err) {
        if (err instanceof ApiError) return null;
        throw err;
      }
    })();
    // A cursor that is not ours (edited by hand) is the first page again.
    if (!p) return seeOther("/notifications");
    const list = await listNotifications(deps, userId, p);
    const { items, meta } = pageOf(list, p, (r) => ({ createdAt: r.row.createdAt, id: r.row.id }));
    // Opening the page is looking at the badge: everything is seen (read stays as it was, shown below).
    await markNotifications(deps, userId, "seen");
    const [viewer, counts] = await Promise.all([viewerOf(deps, auth), notificationCounts(deps, userId)]);
    const csrf = csrfFor(request, config.PUBLIC_URL);
    const names: Names = new Map(items.map((r) => [r.item.actor.id, r.item.actor.display_name || r.item.actor.username]));
    const groups = groupNotifications(userId, items);
    const now = deps.clock.now();
    const body = await (
      <Shell title="Notifications" instance={instance} viewer={viewer} path="/notifications" csrf={csrf.token} narrow>
        <div class="row spread">
          <h1>Notifications</h1>
          {counts.unread ? (
            <form method="post" action="/notifications/read" data-mark-read>
              <input type="hidden" name="csrf" value={csrf.token} />
              <button type="submit" class="secondary">
                Mark all as read
              </button>
            </form>
          ) : (
            ""
          )}
        </div>
        {groups.length ? (
          <ul class="notifications">
            {groups.map((g) => (
              <Group g={g} names={names} now={now} />
            ))}
          </ul>
        ) : (
          <p class="empty">{query.cursor ? "No more notifications." : "Nothing yet. When producers follow you or react to your loops, it shows here."}</p>
        )}
        {meta.has_more ? (
          <a class="more button secondary" href={`/notifications?cursor=${encodeURIComponent(meta.next_cursor)}`}>
            More
          </a>
        ) : (
          ""
        )}
      </Shell>
    );
    return withCookies(html(body, { cache: "no-store" }), [csrf.setCookie]);
  };

  return new Elysia({ name: "web-notifications" })
    .get("/notifications", ({ request, query }) => page(request, query as { cursor?: string }), HIDDEN)
    .post(
      "/notifications/read",
      ({ request, body }) =>
        browserAction(deps, request, asForm(body), "/notifications", async (auth) => {
          const updated = await markNotifications(deps, auth.user.id, "read");
          return { ok: true, updated, ...(await notificationCounts(deps, auth.user.id)) };
        }),
      browserActionDoc(
        "Mark all your notifications read from the web app",
        t.Object(
          { ok: t.Boolean(), updated: t.Integer(), unseen: t.Integer(), unread: t.Integer() },
          { examples: [{ ok: true, updated: 3, unseen: 0, unread: 0 }] },
        ),
      ),
    );
};

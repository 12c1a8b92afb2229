// The pages people share (docs/architecture.md "Web app"):
//   /l/:id          the loop page: the player, title, producer, facts, reactions, plays, and more from the producer
//   /@:username     the profile: avatar, names, presence (as the presence rules allow), bio, DAW, genre, links,
//                   counts, the follow form (its action is POST /@:username/follow), and the producer's loops with
//                   "More loops" paging (?cursor=; x-fragment: 1 answers just the cards, like the home page)
// Both carry the share metadata (ui/share.tsx). Unknown ids and usernames, loops that are not ready (except to their
// owner, who sees "still processing") and removed loops answer the 404 page. Anonymous views are rendered once per
// database version into deps.caches.pages; signed-in views per request.
import { Elysia } from "elysia";
import { readBrowserSession } from "../auth/browser-session.ts";
import type { Auth } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { withCookies } from "../http/cookies.ts";
import { ApiError } from "../http/errors.ts";
import { pageOf, parsePage } from "../http/pagination.ts";
import { enrichPosts } from "../posts/enrich.ts";
import { similarLoops } from "../discover/service.ts";
import type { PostT } from "../posts/models.ts";
import { findVisiblePost, listUserPosts } from "../posts/service.ts";
import { notePostsSeen } from "../realtime/events.ts";
import type { PublicUserT } from "../users/models.ts";
import { findUserByIdOrUsername } from "../users/profile.ts";
import { toPublicUser, viewerExtras } from "../users/service.ts";
import { viewerOf } from "./context.ts";
import { htmlResponder, HIDDEN } from "./html.ts";
import { csrfFor } from "./layout.ts";
import { Avatar, Shell, type Viewer } from "./shell.tsx";
import { type Instance, NotFoundPage } from "./ui/not-found.tsx";
import { displayName, LoopCard, LoopStats, Player, Reactions } from "./ui/loop.tsx";
import { LoopShareHead, ProfileShareHead, type Site, loopDescription, loopTitle, shareImage, siteOf } from "./ui/share.tsx";
import { FollowButton } from "./ui/follow.tsx";
import { ReportControl } from "./ui/report.tsx";
import { PinButton, RepostButton, SaveButton } from "./ui/save.tsx";
import { PinnedLoops } from "./ui/pin.tsx";
import { FormOutcome } from "./ui/outcome.tsx";
import { pinnedPosts } from "../posts/pins.ts";
import { BlockedNotice, HideControls } from "./ui/block.tsx";
import { relationTo, type Relation } from "../social/block-states.ts";
import { commentPage, loopComments } from "./comment-actions.tsx";

const MORE_FROM = 6;
/** Similar loops on a loop's page (README "Discover"). */
const SIMILAR = 6;
const PROFILE_PAGE = 12;

/** "0:16", "1:04". */
export const clock = (seconds: number) => {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};

/** An http(s) URL to link to, or null (javascript:, data: and the like are never links). */
export function httpUrl(raw: string): string | null {
  try {
    const url = new URL(raw.trim());
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function LoopPage(p: { post: PostT; more: PostT[]; similar: PostT[]; csrf?: string; signedIn: boolean; error?: string; comments?: JSX.Element }): JSX.Element {
  const { post } = p;
  const producer = displayName(post);
  const facts: [string, string][] = [
    ["Tempo", post.bpm ? `${Math.round(post.bpm * 10) / 10} BPM` : ""],
    ["Key", post.key],
    ["Length", [post.duration_bars ? `${post.duration_bars} bars` : "", post.duration_seconds ? clock(post.duration_seconds) : ""].filter(Boolean).join(", ")],
    ["DAW", post.daw],
    ["Genres", post.genres.join(", ")],
  ];
  return (
    <>
      <FormOutcome error={p.error} />
      <article class="card loop loop-page" data-post={post.id}>
        <div class="byline">
          <Avatar url={post.user.avatar_url} name={producer} />
          <div>
            <a href={`/@${post.username}`} safe>
              {producer}
            </a>
            <div class="muted" safe>{`@${post.username}`}</div>
          </div>
        </div>
        <h1 class="title" safe>
          {loopTitle(post)}
        </h1>
        <Player post={post} />
        <dl class="facts">
          {facts
            .filter(([, v]) => v)
            .map(([k, v]) => (
              <div>
                <dt safe>{k}</dt>
                <dd safe>{v}</dd>
              </div>
            ))}
        </dl>
        <Reactions post={post} csrf={p.csrf} signedIn={p.signedIn} />
        <SaveButton post={post} signedIn={p.signedIn} csrf={p.csrf} />
        {post.is_own_post ? <PinButton post={post} csrf={p.csrf} /> : <RepostButton post={post} signedIn={p.signedIn} csrf={p.csrf} />}
        <LoopStats post={post} />
        <ReportControl post={post} signedIn={p.signedIn} csrf={p.csrf} />
      </article>
      {(p.comments ?? "") as "safe"}
      {p.more.length ? (
        <section aria-labelledby="more-from">
          <h2 id="more-from" safe>{`More from @${post.username}`}</h2>
          <ul class="loops">
            {p.more.map((m) => (
              <LoopCard post={m} csrf={p.csrf} signedIn={p.signedIn} headingLevel={3} />
            ))}
          </ul>
        </section>
      ) : (
        ""
      )}
      {p.similar.length ? (
        <section aria-labelledby="similar-loops">
          <h2 id="similar-loops">Similar loops</h2>
          <p class="muted">Same genre, the same or the relative key, a tempo within 3 BPM (or half or double time).</p>
          <ul class="loops">
            {p.similar.map((m) => (
              <LoopCard post={m} csrf={p.csrf} signedIn={p.signedIn} headingLevel={3} />
            ))}
          </ul>
        </section>
      ) : (
        ""
      )}
    </>
  ) as JSX.Element;
}

/** The loop's owner, while the loop is not ready: what is happening (or what the staff did, and why), nothing to share. */
function NotReady(p: { title: string; status: string; reason: string | null }): JSX.Element {
  const text =
    p.status === "failed"
      ? "This loop could not be processed. Only you can see this page; try uploading the file again."
      : p.status === "removed"
        ? `The staff of this community took this loop down. Their reason: ${p.reason ?? ""}`
        : p.status === "withheld"
          ? "This loop is withheld while your account is suspended."
          : "Still processing: this loop is being converted. Only you can see it until it is ready; reload in a moment.";
  return (
    <>
      <h1 safe>{p.title}</h1>
      <p class={p.status === "removed" ? "notice error" : "notice"} role="status" safe>
        {text}
      </p>
    </>
  ) as JSX.Element;
}

function FollowControl(p: { user: PublicUserT; viewer: Viewer; csrf?: string }): JSX.Element {
  const { user, viewer } = p;
  if (viewer?.id === user.id) {
    return (
      <a class="button secondary" href="/settings">
        Edit profile
      </a>
    ) as JSX.Element;
  }
  if (!viewer) {
    return (
      <a class="button follow" href={`/signin?next=${encodeURIComponent(`/@${user.username}`)}`} safe>
        {`Follow ${user.username}`}
      </a>
    ) as JSX.Element;
  }
  return (<FollowButton username={user.username} following={user.is_following} csrf={p.csrf ?? ""} />) as JSX.Element;
}

/** One page of the producer's loops and the link to the next (the client follows it with x-fragment: 1). */
function ProfileLoops(p: { username: string; posts: PostT[]; next: string; csrf?: string; signedIn: boolean }): JSX.Element {
  return (
    <>
      {p.posts.map((post) => (
        <LoopCard post={post} csrf={p.csrf} signedIn={p.signedIn} headingLevel={3} />
      ))}
      {p.next ? (
        <li class="pager">
          <a class="more button secondary" href={`/@${p.username}?cursor=${encodeURIComponent(p.next)}`} data-more>
            More loops
          </a>
        </li>
      ) : (
        ""
      )}
    </>
  ) as JSX.Element;
}

function ProfilePage(p: {
  user: PublicUserT;
  presence: boolean;
  loops: JSX.Element;
  empty: boolean;
  viewer: Viewer;
  csrf?: string;
  /** A signed-in visitor's relation to the producer, for Mute and Block (ui/block.tsx). */
  relation?: Relation;
  /** The loops the producer pinned, in their order (first page only). */
  pinned: JSX.Element;
}): JSX.Element {
  const { user } = p;
  const name = user.display_name || user.username;
  const links = [
    ...(user.website ? [["Website", user.website] as const] : []),
    ...Object.entries(user.social_links).map(([k, v]) => [k.charAt(0).toUpperCase() + k.slice(1), v] as const),
  ]
    .map(([label, raw]) => ({ label, href: httpUrl(raw) }))
    .filter((l): l is { label: string; href: string } => l.href !== null);
  const about = [user.daw, user.genre, user.location].filter(Boolean);
  const status = user.is_in_studio ? "in_studio" : user.is_online ? "online" : "offline";
  const statusText = user.is_in_studio ? "In the studio" : user.is_online ? "Online" : "Offline";
  const count = (n: number, one: string, many: string, followers?: string) => (
    <span>
      <strong data-follower-count={followers} safe>
        {String(n)}
      </strong>{" "}
      <span safe>{n === 1 ? one : many}</span>
    </span>
  );
  return (
    <>
      <section class="profile-head">
        <Avatar url={user.avatar_url} name={name} large />
        <div>
          <h1 safe>{name}</h1>
          <p class="muted">
            <span safe>{`@${user.username}`}</span>
            {p.presence ? (
              <>
                {" "}
                <span class={`presence ${status}`} data-presence={user.id} title={statusText} />
                <span class="visually-hidden">{statusText}</span>
              </>
            ) : (
              ""
            )}
          </p>
        </div>
      </section>
      {user.bio ? (
        <p class="bio" safe>
          {user.bio}
        </p>
      ) : (
        ""
      )}
      {about.length ? (
        <ul class="meta" aria-label="About">
          {about.map((a) => (
            <li safe>{a}</li>
          ))}
        </ul>
      ) : (
        ""
      )}
      {links.length ? (
        <ul class="links" aria-label="Links">
          {links.map((l) => (
            <li>
              <a href={l.href} rel="me nofollow ugc" safe>
                {l.label}
              </a>
            </li>
          ))}
        </ul>
      ) : (
        ""
      )}
      <p class="counts">
        {count(user.follower_count, "follower", "followers", user.username)}
        {count(user.following_count, "following", "following")}
        {count(user.post_count, "loop", "loops")}
      </p>
      <FollowControl user={user} viewer={p.viewer} csrf={p.csrf} />
      <ReportControl user={user} signedIn={Boolean(p.viewer)} own={p.viewer?.id === user.id} csrf={p.csrf} />
      {p.relation ? <HideControls username={user.username} relation={p.relation} csrf={p.csrf ?? ""} /> : ""}
      {p.pinned as "safe"}
      <h2 id="loops">Loops</h2>
      {p.empty ? (
        <p class="empty">No loops yet.</p>
      ) : (
        <ul class="loops" data-feed="profile" aria-labelledby="loops">
          {p.loops as "safe"}
        </ul>
      )}
    </>
  ) as JSX.Element;
}

export const loopRoutes = (deps: Deps) => {
  const { config } = deps;
  const html = htmlResponder(deps);
  const instance: Instance = deps.caches.instance;
  const site: Site = siteOf(deps);

  const notFound = async (viewer: Viewer, path: string, what: string, cookies: (string | undefined)[] = []) =>
    withCookies(
      html(await (<NotFoundPage instance={instance} viewer={viewer} path={path} what={what} />), { status: 404, cache: viewer ? "private" : "public" }),
      cookies,
    );

  const NO_LOOP = "There is no loop here: it may have been removed, or the link is mistyped.";
  const NO_USER = "There is no producer with this name here.";

  /** The loop page's body, or null when the viewer may not see it (404). */
  async function renderLoop(id: string, auth: Auth | null, viewer: Viewer, csrf?: string, error?: string, page = 1): Promise<string | null> {
    const viewerId = auth?.user.id ?? null;
    const row = id.length <= 64 ? await findVisiblePost(deps, id, viewerId) : null;
    if (!row) return null;
    const path = `/l/${id}`;
    if (row.post.status !== "ready") {
      return await (
        <Shell title={row.post.title || "Untitled loop"} instance={instance} viewer={viewer} path={path} csrf={csrf} narrow>
          <NotReady title={row.post.title || "Untitled loop"} status={row.post.status} reason={row.post.error} />
        </Shell>
      );
    }
    // The producer's other ready loops (as anyone sees them), then this viewer's copy of all of them at once.
    const others = (await listUserPosts(deps, row.post.userId, null, { limit: MORE_FROM + 1 })).filter((r) => r.post.id !== id).slice(0, MORE_FROM);
    const [post, ...more] = await enrichPosts(deps, [row, ...others], viewerId);
    void notePostsSeen(deps, viewerId, [post!.id, ...more.map((m) => m.id)]).catch(() => undefined); // live counts for this viewer
    return await (
      <Shell
        title={loopTitle(post!)}
        description={loopDescription(post!)}
        instance={instance}
        viewer={viewer}
        path={path}
        csrf={csrf}
        head={await (<LoopShareHead post={post!} image={shareImage(deps, row.post, post!)} site={site} />)}
      >
        <LoopPage
          post={post!}
          more={more}
          similar={await similarNotShown(id, viewerId, more)}
          csrf={csrf}
          signedIn={Boolean(auth)}
          error={error}
          comments={await loopComments(deps, row.post, post!, auth, csrf, page)}
        />
      </Shell>
    );
  }

  /** Up to SIMILAR similar loops, without those "More from" already lists on the page (asked with room for them). */
  async function similarNotShown(id: string, viewerId: string | null, more: PostT[]): Promise<PostT[]> {
    const shown = new Set(more.map((m) => m.id));
    const { posts } = await similarLoops(deps, id, viewerId, { limit: SIMILAR + shown.size, offset: 0 });
    return posts.filter((s) => !shown.has(s.id)).slice(0, SIMILAR);
  }

  async function loopPage(request: Request, id: string): Promise<Response> {
    const auth = await readBrowserSession(deps, request);
    const path = `/l/${id}`;
    const params = new URL(request.url).searchParams;
    const page = commentPage(params.get("comments")); // ?comments=N: that page of the loop's comments
    if (!auth) {
      const body = await deps.caches.pages.get(`loop|${id}|${page}`, async () => (await renderLoop(id, null, null, undefined, undefined, page)) ?? "");
      return body ? html(body, { cache: "public", request }) : notFound(null, path, NO_LOOP);
    }
    const csrf = csrfFor(request, config.PUBLIC_URL);
    const viewer = await viewerOf(deps, auth);
    // A refused form on the page (the owner's pin) comes back with ?error= (web/pin-actions.ts).
    const error = params.get("error")?.slice(0, 300) || undefined;
    const body = await renderLoop(id, auth, viewer, csrf.token, error, page);
    return body ? withCookies(html(body), [csrf.setCookie]) : notFound(viewer, path, NO_LOOP, [csrf.setCookie]);
  }

  type ProfileView = { body: string; canonical: string } | { missing: true };

  async function renderProfile(
    handle: string,
    cursor: string | undefined,
    fragment: boolean,
    auth: Auth | null,
    viewer: Viewer,
    csrf?: string,
  ): Promise<ProfileView> {
    const viewerId = auth?.user.id ?? null;
    const row = await findUserByIdOrUsername(deps, handle);
    // Usernames only (case-insensitive): an id in the path is not a profile address.
    if (!row || row.username !== handle.trim().toLowerCase()) return { missing: true };
    // Blocked by them: the unknown producer's 404. Blocking them: only who it is and Unblock (README "Blocking and muting").
    const relation = await relationTo(deps, viewerId, row.id);
    if (relation.blocked_by) return { missing: true };
    if (relation.blocking) {
      if (fragment) return { body: "", canonical: row.username };
      const body = await (
        <Shell title={`@${row.username}`} instance={instance} viewer={viewer} path={`/@${row.username}`} csrf={csrf} narrow>
          <BlockedNotice username={row.username} csrf={csrf ?? ""} />
        </Shell>
      );
      return { body, canonical: row.username };
    }
    const page = parsePage({ limit: String(PROFILE_PAGE), cursor });
    // The profile lists the loops everyone sees (ready ones), so the list and its count agree for the owner too.
    const rows = await listUserPosts(deps, row.id, null, page);
    const { items, meta } = pageOf(rows, page, (r) => ({ createdAt: r.post.createdAt, id: r.post.id }));
    const [posts, extras] = await Promise.all([enrichPosts(deps, items, viewerId), viewerExtras(deps, viewerId, [row.id])]);
    void notePostsSeen(
      deps,
      viewerId,
      posts.map((p) => p.id),
    ).catch(() => undefined);
    const loops = await (<ProfileLoops username={row.username} posts={posts} next={meta.next_cursor} csrf={csrf} signedIn={Boolean(auth)} />);
    if (fragment) return { body: loops, canonical: row.username };
    const pinnedPage = cursor ? [] : await enrichPosts(deps, await pinnedPosts(deps, row.id), viewerId);
    const pinned = await (<PinnedLoops posts={pinnedPage} csrf={csrf} signedIn={Boolean(auth)} />);
    const ex = extras.get(row.id);
    const user = toPublicUser(deps, row, ex);
    const presence = Boolean(ex?.presence_visible && row.showActivityStatus);
    const body = await (
      <Shell
        title={`${user.display_name || user.username} (@${user.username})`}
        description={user.bio || `Loops by @${user.username}`}
        instance={instance}
        viewer={viewer}
        path={`/@${row.username}`}
        csrf={csrf}
        head={await (<ProfileShareHead user={user} site={site} />)}
      >
        <ProfilePage
          user={user}
          presence={presence}
          loops={loops as unknown as JSX.Element}
          empty={posts.length === 0}
          viewer={viewer}
          csrf={csrf}
          relation={viewerId && viewerId !== row.id ? relation : undefined}
          pinned={pinned as unknown as JSX.Element}
        />
      </Shell>
    );
    return { body, canonical: row.username };
  }

  async function profilePage(request: Request, handle: string, query: { cursor?: string }): Promise<Response> {
    const auth = await readBrowserSession(deps, request);
    const cursor = query.cursor || undefined;
    const fragment = request.headers.get("x-fragment") === "1";
    const path = `/@${handle}`;
    try {
      if (!auth) {
        const key = `profile|${handle.toLowerCase()}|${cursor ?? ""}|${fragment}`;
        const body = await deps.caches.pages.get(key, async () => {
          const view = await renderProfile(handle, cursor, fragment, null, null);
          return "missing" in view ? "" : view.body;
        });
        return body ? html(body, { cache: "public", fragment, request }) : notFound(null, path, NO_USER);
      }
      const csrf = csrfFor(request, config.PUBLIC_URL);
      const viewer = fragment ? null : await viewerOf(deps, auth);
      const view = await renderProfile(handle, cursor, fragment, auth, viewer, csrf.token);
      if ("missing" in view) return notFound(viewer ?? (await viewerOf(deps, auth)), path, NO_USER, [csrf.setCookie]);
      return withCookies(html(view.body, { fragment }), [csrf.setCookie]);
    } catch (err) {
      // A cursor that is not ours (edited by hand) is the first page again, not an error page.
      if (err instanceof ApiError && err.status === 400 && cursor) return Response.redirect(`/@${encodeURIComponent(handle)}`, 303);
      throw err;
    }
  }

  return new Elysia({ name: "web-loops" })
    .get("/l/:id", ({ request, params }) => loopPage(request, params.id), HIDDEN)
    .get("/@:username", ({ request, params, query }) => profilePage(request, (params as { username: string }).username, query as { cursor?: string }), HIDDEN);
};

// Stories in the web app (README "Stories"; docs/architecture.md "Web app"):
//   the home page       signed in, a row of the producers you follow with stories you have not heard, and yours
//                       (StoriesRow, src/web/ui/stories.tsx, rendered by app-routes.tsx)
//   GET  /stories/u/:id  one producer's live stories, oldest first, each a plain <audio> of its rendition; playing
//                       one records the view (the client script posts it once), and without JavaScript its
//                       "Mark as heard" button does
//   POST /stories/:id/view  that view (browserAction: CSRF, signed in; the API's viewStory and "stories" limit)
//   GET  /stories/new   the story form (the file in `audio`, a title), POST /stories/new takes it through the same
//                       checks as the API's POST /stories (receiveWebUpload, uploadStoryForm)
import { Elysia, t } from "elysia";
import type { Deps } from "../deps.ts";
import { bodies } from "../http/body.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { withCookies } from "../http/cookies.ts";
import { ApiError } from "../http/errors.ts";
import { byteSize } from "../lib/text.ts";
import { STORY_MAX_SECONDS } from "../stories/process.ts";
import { userStories, viewStory } from "../stories/service.ts";
import { uploadStoryForm } from "../stories/upload.ts";
import { asForm, browserAction, browserActionDoc, formText, pageContext, type PageContext, seeOther } from "./context.ts";
import { HIDDEN, htmlResponder } from "./html.ts";
import { Shell } from "./shell.tsx";
import { uploadBody } from "../audio/upload.ts";
import { receiveWebUpload } from "./upload-form.ts";
import { signInPath } from "../auth/browser-session.ts";
import { getPublicProfile } from "../users/profile.ts";

/** Back to the producer's stories page after a plain form's "Mark as heard" (an id, never a URL: no open redirect). */
const backTo = (form: Record<string, unknown>) => {
  const producer = formText(form.producer, 64);
  return /^[A-Za-z0-9-]+$/.test(producer) ? `/stories/u/${producer}` : "/";
};

export const storyPages = (deps: Deps) => {
  const { config } = deps;
  const html = htmlResponder(deps);
  const instance = deps.caches.instance;
  const trusted = parseTrustedProxies(config.TRUSTED_PROXIES);

  const formPage = async (ctx: PageContext, opts: { status?: number; error?: ApiError } = {}) => {
    const problems = Object.values(opts.error?.fields ?? {});
    const body = await (
      <Shell title="Post a story" instance={instance} viewer={ctx.viewer} path="/stories/new" csrf={ctx.csrf.token} narrow>
        <h1>Post a story</h1>
        <p class="muted">{`A sketch of up to ${STORY_MAX_SECONDS - 1} seconds for the people who follow you; it disappears after 24 hours.`}</p>
        <div class="error" role="alert">
          {opts.error ? (
            <>
              <p safe>{opts.error.message}</p>
              {problems.length ? (
                <ul>
                  {problems.map((m) => (
                    <li safe>{m}</li>
                  ))}
                </ul>
              ) : (
                ""
              )}
            </>
          ) : (
            ""
          )}
        </div>
        <form method="post" action="/stories/new" enctype="multipart/form-data" class="upload">
          <input type="hidden" name="csrf" value={ctx.csrf.token} />
          <label for="story-file">Audio file</label>
          <input id="story-file" type="file" name="audio" accept=".wav,.aif,.aiff,.flac,.mp3,.ogg,audio/*" required aria-describedby="story-file-hint" />
          <p class="muted hint" id="story-file-hint" safe>
            {`WAV, AIFF, FLAC, MP3 or Ogg, up to ${byteSize(config.UPLOAD_MAX_BYTES)}`}
          </p>
          <label for="story-title">Title</label>
          <input id="story-title" name="filename" maxlength="120" placeholder="Late night sketch" />
          <button type="submit" class="block">
            Post story
          </button>
        </form>
      </Shell>
    );
    return withCookies(html(body, { status: opts.status, cache: "no-store", headers: opts.error?.headers }), [ctx.csrf.setCookie]);
  };

  const storiesPage = async (ctx: PageContext & { auth: NonNullable<PageContext["auth"]> }, userId: string) => {
    const me = ctx.auth.user.id;
    // Unknown, suspended, or blocked either way: the page of nobody (README "Blocking and muting").
    const profile = await getPublicProfile(deps, userId, ctx.auth.user).catch(() => null);
    const list = profile ? await userStories(deps, userId, me) : [];
    const name = profile ? profile.display_name || profile.username : "Stories";
    const heading = profile ? `Stories of ${name}` : "Stories";
    const body = await (
      <Shell title={`${name}: stories`} instance={instance} viewer={ctx.viewer} path="/stories" csrf={ctx.csrf.token} narrow>
        <h1 safe>{heading}</h1>
        {list.length ? (
          <ol class="stories-player">
            {list.map((s, i) => (
              <li id={`story-${s.id}`} class={s.viewed ? "story heard" : "story"}>
                <p class="muted" safe>
                  {[`${i + 1} of ${list.length}`, s.filename || "Story", `${Math.round(s.audio_duration)} s`, s.bpm ? `${s.bpm} BPM` : "", s.key]
                    .filter(Boolean)
                    .join(" · ")}
                </p>
                {/* biome-ignore lint/a11y/useMediaCaption: an instrumental sketch has no words to caption */}
                <audio controls="" preload="none" src={s.mp3_url} data-story-view={`/stories/${s.id}/view`} aria-label={`Story ${i + 1} of ${name}`} />
                {s.user_id === me ? (
                  <p class="muted" safe>{`Heard by ${s.view_count} ${s.view_count === 1 ? "person" : "people"}`}</p>
                ) : s.viewed ? (
                  <p class="muted">Heard</p>
                ) : (
                  <form method="post" action={`/stories/${s.id}/view`}>
                    <input type="hidden" name="csrf" value={ctx.csrf.token} />
                    <input type="hidden" name="producer" value={s.user_id} />
                    <button type="submit" class="secondary">
                      Mark as heard
                    </button>
                  </form>
                )}
              </li>
            ))}
          </ol>
        ) : (
          <p class="empty">No stories here right now.</p>
        )}
        {userId === me ? (
          <p>
            <a class="button" href="/stories/new">
              Post another story
            </a>
          </p>
        ) : (
          ""
        )}
      </Shell>
    );
    return withCookies(html(body, { cache: "no-store" }), [ctx.csrf.setCookie]);
  };

  return new Elysia({ name: "web-stories" })
    .use(bodies(config.BODY_MAX_BYTES))
    .get(
      "/stories/new",
      async ({ request }) => {
        const ctx = await pageContext(deps, request);
        return ctx.auth ? formPage(ctx) : seeOther(signInPath("/stories/new"));
      },
      HIDDEN,
    )
    .post(
      "/stories/new",
      async ({ request }) => {
        try {
          const outcome = await receiveWebUpload(deps, request, "/stories/new", (auth, fields) => uploadStoryForm(deps, auth.user.id, fields, null));
          return outcome instanceof Response ? outcome : seeOther(`/stories/u/${outcome.story.user_id}`);
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          const ctx = await pageContext(deps, request);
          return ctx.auth ? formPage(ctx, { status: err.status, error: err }) : seeOther(signInPath("/stories/new"));
        }
      },
      { ...HIDDEN, accepts: uploadBody(config) },
    )
    .get(
      "/stories/u/:id",
      async ({ request, params }) => {
        const ctx = await pageContext(deps, request);
        if (!ctx.auth) return seeOther(signInPath(`/stories/u/${encodeURIComponent(params.id)}`));
        return storiesPage({ ...ctx, auth: ctx.auth }, params.id);
      },
      { ...HIDDEN, params: t.Object({ id: t.String({ maxLength: 64 }) }) },
    )
    .post(
      "/stories/:id/view",
      ({ request, params, body }) =>
        browserAction(deps, request, asForm(body), backTo(asForm(body)), async (auth) => {
          await deps.routeLimits.hit("stories", { ip: clientIp(request, trusted), userId: auth.user.id });
          return viewStory(deps, params.id, auth.user.id);
        }),
      {
        ...browserActionDoc(
          "Record that the signed-in member heard a story (the web app's story player)",
          t.Object({ ok: t.Literal(true), viewed: t.Literal(true), view_count: t.Integer() }, { examples: [{ ok: true, viewed: true, view_count: 3 }] }),
        ),
        params: t.Object({ id: t.String({ maxLength: 64 }) }),
      },
    );
};

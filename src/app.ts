// createApp(deps) composes the feature plugins into one Elysia app. It starts nothing: index.ts listens, and
// tests call app.handle(new Request("http://localhost/...")) on a fresh set of deps.
//
// A map of where things start (docs/architecture.md "Where things start" has the whole of it):
//   routes            createApp below, one routes file per feature area
//   WebSocket         GET /api/v1/ws: index.ts hands the upgrade to the hub (createHub, src/realtime/hub.ts) before
//                     the app; the frames are in docs/plugin-contract.md "WebSocket"
//   job handlers      JOB_HANDLERS below, registered by index.ts before the runner starts (and send-mail, by the
//                     mailer in buildDeps when SMTP_URL is set)
//   periodic tasks    index.ts start() (notification pruning), the job runner (poll, heartbeats, cleanup) and the
//                     hub's tick (idle sockets, watches, session re-checks, presence liveness)
//   CLI commands      src/cli.ts runCli, before any of the above
import { Elysia } from "elysia";
import type { Deps } from "./deps.ts";
import { errorHandler } from "./http/errors.ts";
import { observe } from "./http/observe.ts";
import { bodies } from "./http/body.ts";
import { docs } from "./http/docs.ts";
import { systemRoutes } from "./system/routes.ts";
import { mediaRoutes } from "./media/routes.ts";
import { audioRoutes } from "./audio/routes.ts";
import { postRoutes } from "./posts/routes.ts";
import { feedRoutes } from "./social/feed-routes.ts";
import { searchRoutes } from "./search/routes.ts";
import { discoverRoutes } from "./discover/routes.ts";
import { authRoutes } from "./auth/routes.ts";
import { userRoutes } from "./users/routes.ts";
import { followRoutes } from "./social/follow-routes.ts";
import { blockRoutes } from "./social/block-routes.ts";
import { saveRoutes } from "./social/save-routes.ts";
import { repostRoutes } from "./social/repost-routes.ts";
import { pinRoutes } from "./posts/pin-routes.ts";
import { oauthRoutes } from "./auth/oauth/routes.ts";
import { deviceRoutes } from "./auth/device-routes.ts";
import { streamTokenRoutes } from "./auth/stream-routes.ts";
import { reactionRoutes } from "./social/reaction-routes.ts";
import { commentRoutes } from "./social/comment-routes.ts";
import { playRoutes } from "./social/play-routes.ts";
import { notificationRoutes } from "./social/notification-routes.ts";
import { webPages } from "./web/pages.ts";
import { webPlayRoutes } from "./web/play-routes.ts";
import { appRoutes } from "./web/app-routes.tsx";
import { registerRoutes } from "./web/register.tsx";
import { socialActions } from "./web/social-actions.ts";
import { savedRoutes } from "./web/saved-routes.tsx";
import { pinActions } from "./web/pin-actions.ts";
import { repostActions } from "./web/repost-actions.ts";
import { webReportRoutes } from "./web/report-routes.tsx";
import { blockActions } from "./web/block-actions.ts";
import { commentActions } from "./web/comment-actions.tsx";
import { loopRoutes } from "./web/loop-routes.tsx";
import { searchPages } from "./web/search-routes.tsx";
import { discoverPages } from "./web/discover-routes.tsx";
import { shareRoutes } from "./web/share-routes.tsx";
import { assetRoutes } from "./web/assets.ts";
import { settingsRoutes } from "./web/settings-routes.tsx";
import { uploadRoutes } from "./web/upload-routes.tsx";
import { notificationPages } from "./web/notification-routes.tsx";
import { liveRoutes } from "./web/live-routes.ts";
import { realtimeRoutes } from "./realtime/routes.ts";
import { PROCESS_LOOP, registerProcessLoop } from "./audio/process-loop.ts";
import { reportRoutes } from "./admin/report-routes.ts";
import { adminRoutes } from "./admin/routes.ts";
import { signupRoutes } from "./admin/signup-routes.ts";
import { adminPages } from "./web/admin-routes.tsx";
import { instanceRoutes } from "./system/instance-routes.ts";
import { instanceRefresh } from "./web/instance.ts";
import { browserSessionRenewal } from "./auth/browser-session.ts";
import { signInToView } from "./web/sign-in-to-view.ts";
import { ADD_RENDITIONS, registerRenditions } from "./audio/renditions.ts";
import { DRAW_CARDS, registerCards } from "./posts/card.ts";
import { STREAM_MIRROR, registerStreamMirror } from "./integrations/stream.ts";
import { registerStreamBackfill, STREAM_BACKFILL } from "./integrations/stream-backfill.ts";
import { exportDownloadRoutes, exportRequestRoutes } from "./users/export-routes.ts";
import { DELETE_EXPORT, EXPORT_DATA, registerDeleteExport, registerExportData } from "./users/export.ts";
import { storyRoutes } from "./stories/routes.ts";
import { storyPages } from "./web/story-routes.tsx";
import { EXPIRE_STORY, PROCESS_STORY, registerExpireStory, registerProcessStory } from "./stories/process.ts";
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;

/** The API's upload route, whose refusals the metrics count by code (the web app's /upload counts its own). */
const UPLOAD_ROUTES = new Set(["/api/v1/audio/upload"]);

export function createApp(deps: Deps) {
  return (
    new Elysia()
      .use(errorHandler(deps.log, { answered: (error, route) => UPLOAD_ROUTES.has(route) && deps.metrics.uploadRefused(error.code) }))
      .use(observe({ log: deps.log, metrics: deps.metrics }))
      .use(browserSessionRenewal())
      .use(instanceRefresh(deps))
      .use(signInToView(deps))
      .use(docs(VERSION))
      // Every route below declares the bodies it takes (http/body.ts): the browser pages take urlencoded forms, the
      // rest JSON, up to BODY_MAX_BYTES. Routes declare their exceptions: the two uploads (multipart, megabytes, read
      // after auth) and the plugin's sign-in confirmation (a browser form).
      .use(bodies(deps.config.BODY_MAX_BYTES))
      .guard({ accepts: { kinds: ["form"] } }, (web) =>
        web
          .use(webPages(deps))
          .use(appRoutes(deps))
          .use(loopRoutes(deps))
          .use(searchPages(deps))
          .use(discoverPages(deps))
          .use(shareRoutes(deps))
          .use(settingsRoutes(deps))
          .use(uploadRoutes(deps))
          .use(storyPages(deps))
          .use(notificationPages(deps))
          .use(socialActions(deps))
          .use(savedRoutes(deps))
          .use(pinActions(deps))
          .use(repostActions(deps))
          .use(webReportRoutes(deps))
          .use(blockActions(deps))
          .use(commentActions(deps))
          .use(registerRoutes(deps))
          .use(liveRoutes(deps))
          .use(webPlayRoutes(deps))
          .use(adminPages(deps))
          .use(assetRoutes(deps)),
      )
      .guard({ accepts: { kinds: ["json"] } }, (json) =>
        json
          .use(systemRoutes(deps))
          .use(mediaRoutes(deps))
          .use(exportDownloadRoutes(deps))
          .group("/api/v1", (api) =>
            api
              // accounts
              .use(authRoutes(deps))
              .use(oauthRoutes(deps))
              .use(deviceRoutes(deps))
              .use(streamTokenRoutes(deps))
              // producers and their loops
              .use(userRoutes(deps))
              .use(exportRequestRoutes(deps))
              .use(followRoutes(deps))
              .use(blockRoutes(deps))
              .use(saveRoutes(deps))
              .use(repostRoutes(deps))
              .use(pinRoutes(deps))
              .use(postRoutes(deps))
              .use(audioRoutes(deps))
              .use(storyRoutes(deps))
              // the social layer
              .use(feedRoutes(deps))
              .use(searchRoutes(deps))
              .use(discoverRoutes(deps))
              .use(reactionRoutes(deps))
              .use(commentRoutes(deps))
              .use(playRoutes(deps))
              .use(notificationRoutes(deps))
              .use(realtimeRoutes(deps))
              // running the community
              .use(instanceRoutes(deps))
              .use(reportRoutes(deps))
              .use(signupRoutes(deps))
              .use(adminRoutes(deps)),
          ),
      )
  );
}

export type App = ReturnType<typeof createApp>;

/**
 * The features' job handlers by job type, each registering itself under that type (stream-mirror and stream-backfill
 * only when Stream is configured). index.ts registers them all before the job runner starts; the mailer registers
 * send-mail itself.
 */
export const JOB_HANDLERS: Readonly<Record<string, (deps: Deps) => void>> = {
  [PROCESS_LOOP]: registerProcessLoop,
  [ADD_RENDITIONS]: registerRenditions,
  [DRAW_CARDS]: registerCards,
  [STREAM_MIRROR]: registerStreamMirror,
  [STREAM_BACKFILL]: registerStreamBackfill,
  [EXPORT_DATA]: registerExportData,
  [DELETE_EXPORT]: registerDeleteExport,
  [PROCESS_STORY]: registerProcessStory,
  [EXPIRE_STORY]: registerExpireStory,
};

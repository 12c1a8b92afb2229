// What the code records into `deps.metrics` (README "Metrics"). Types only, in a leaf module, so the infrastructure
// that records (the job queue, the HTTP observer) and deps.ts import it without importing prom-client or each other.
// When metrics are off, `deps.metrics` is NO_METRICS: every call does nothing, so a server without metrics pays
// nothing per request.

/** How one job attempt ended (src/jobs/queue.ts). */
export type JobOutcome = "done" | "retried" | "failed" | "lost" | "abandoned" | "released";

/** The step of the media pipeline an ffmpeg or ffprobe run belongs to (the `stage` of RunOptions, src/audio/ffmpeg.ts). */
export type FfmpegStage = "probe" | "analyse" | "limit" | "encode_mp3" | "encode_ogg" | "verify_mp3" | "verify_ogg" | "avatar" | "download" | "other";

export interface Metrics {
  /** False for NO_METRICS: callers may skip work done only to record. */
  readonly enabled: boolean;
  /** One answered HTTP request: the matched route pattern (never the raw path), its status and duration. */
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  /** One job attempt of `type` and how it ended, with the time its handler ran. */
  jobAttempt(type: string, outcome: JobOutcome, seconds: number): void;
  /** One ffmpeg or ffprobe process that ran to its end (or was killed), by tool and stage. */
  ffmpegRun(tool: "ffmpeg" | "ffprobe", stage: FfmpegStage, seconds: number, ok: boolean): void;
  /** An upload (loop or snippet, API or web app) refused with this error code. */
  uploadRefused(code: string): void;
  /** A WebSocket connection accepted (+1) or closed (-1) on this instance. */
  websocket(delta: 1 | -1): void;
  /** The exposition text of everything (Prometheus text format 0.0.4). */
  scrape(): Promise<string>;
}

export const NO_METRICS: Metrics = Object.freeze({
  enabled: false,
  httpRequest() {},
  jobAttempt() {},
  ffmpegRun() {},
  uploadRefused() {},
  websocket() {},
  scrape: async () => "",
});

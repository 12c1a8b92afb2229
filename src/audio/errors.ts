// The closed set of ways the audio pipeline refuses or fails. Every module in src/audio throws AudioError (never a
// bare Error for an expected failure), so the upload route and the process-loop job can branch on `code` and turn
// it into the contract's {error, message} body with toApiError().
import { ApiError } from "../http/errors.ts";

/** What the producer did wrong: the same file will fail again, so the job must not retry. */
const INPUT_CODES = {
  empty_file: 422,
  unsupported_format: 415,
  corrupt_audio: 422,
  too_short: 422,
  too_long: 422,
  unsupported_sample_rate: 422,
  unsupported_channels: 422,
  silent: 422,
} as const;

/** What went wrong on our side: worth a retry (a busy machine, a killed process, a missing binary). */
const SERVER_CODES = {
  timeout: 503,
  aborted: 503,
  ffmpeg_unavailable: 503,
  processing_failed: 500,
} as const;

export type AudioErrorCode = keyof typeof INPUT_CODES | keyof typeof SERVER_CODES;

export class AudioError extends Error {
  override name = "AudioError";
  constructor(
    readonly code: AudioErrorCode,
    /** Human text for the producer; never contains paths or ffmpeg output. */
    message: string,
    /** For the log only (ffmpeg's stderr tail, exit code...). */
    readonly detail?: string,
  ) {
    super(message);
  }
  /** False for bad input (retrying cannot help), true for failures of the machine. */
  get retryable(): boolean {
    return this.code in SERVER_CODES;
  }
  get status(): AudioErrorStatus {
    return audioErrorStatus(this.code);
  }
}

export type AudioErrorStatus = 415 | 422 | 500 | 503;

/**
 * The one code → HTTP status table: the upload answers with it whether the refusal came from the checks in the
 * request or from the process-loop job (whose code is kept on the post row). An unknown code is our failure: 500.
 */
export function audioErrorStatus(code: string): AudioErrorStatus {
  return (INPUT_CODES as Record<string, 415 | 422>)[code] ?? (SERVER_CODES as Record<string, 500 | 503>)[code] ?? 500;
}

export function isAudioError(e: unknown): e is AudioError {
  return e instanceof AudioError;
}

/** Maps an AudioError onto the API's closed error type (same code, same message). */
export function toApiError(e: AudioError | { code: string; message: string }): ApiError {
  return new ApiError(audioErrorStatus(e.code), e.code, e.message);
}

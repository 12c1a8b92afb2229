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
  get status(): 415 | 422 | 500 | 503 {
    return (INPUT_CODES as Record<string, 415 | 422>)[this.code] ?? (SERVER_CODES as Record<string, 500 | 503>)[this.code]!;
  }
}

export function isAudioError(e: unknown): e is AudioError {
  return e instanceof AudioError;
}

/** Maps an AudioError onto the API's closed error type (same code, same message). */
export function toApiError(e: AudioError): ApiError {
  return new ApiError(e.status, e.code, e.message);
}

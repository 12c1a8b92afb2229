// The logger and clock every layer is handed: a leaf module (it imports nothing), so the infrastructure that
// takes a Logger or a Clock (the job queue, the mailer, the bus, rate limits, the HTTP error handler) does not
// import deps.ts, which imports their types in turn. deps.ts re-exports them.

export type LogFields = Record<string, unknown>;
/**
 * Four levels, each taking a message and plain fields. Fixed fields for many lines come from childLogger, and a
 * failure is described by errorFields (both in src/log.ts, for any Logger: tests hand in their own).
 */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

// One JSON object per line on stdout. A dozen lines do what we need (levels, fields, no secrets by construction:
// callers pass explicit fields), so no logging library is pulled in. Two helpers go with it, for every Logger
// (the tests hand in their own): childLogger adds fixed fields to every line, and errorFields is the one way a
// log line describes a failure.
import type { LogFields, Logger } from "./lib/types.ts";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Logger {
  const min = LEVELS[level];
  const at = (lvl: LogLevel) => (msg: string, fields?: LogFields) => {
    if (LEVELS[lvl] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields }));
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/**
 * A logger that adds `fields` to every line it writes through `parent` (a job's id and type, a mail's id). The
 * fields of a call win over the fixed ones; a child of a child carries both sets.
 */
export function childLogger(parent: Logger, fields: LogFields): Logger {
  const at = (lvl: LogLevel) => (msg: string, more?: LogFields) => parent[lvl](msg, { ...fields, ...more });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

type ErrorLike = { name?: unknown; message: string; code?: unknown; stack?: unknown; cause?: unknown };

/** An Error, or an object thrown in its place that carries a message (some drivers and SDKs throw those). */
const isErrorLike = (err: unknown): err is ErrorLike =>
  err instanceof Error || (typeof err === "object" && err !== null && typeof (err as { message?: unknown }).message === "string");

/**
 * What a thrown value says, as text for a stored reason (a job's `last_error`, a mail's): an error's message (its
 * name when the message is empty), a string as it is, anything else as JSON.
 */
export function errorMessage(err: unknown): string {
  if (isErrorLike(err)) return err.message || (typeof err.name === "string" && err.name ? err.name : "Error");
  if (typeof err === "string") return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

/** "Name: message", as String(err) writes an Error. */
const title = (err: ErrorLike) => {
  const name = typeof err.name === "string" && err.name ? err.name : "Error";
  return err.message ? `${name}: ${err.message}` : name;
};

/**
 * The fields of a log line that describe a failure: `error` ("TypeError: …", a string as it is, anything else as
 * JSON), `error_code` when the error has one (ENOENT, SQLITE_BUSY, an AudioError's code), `error_cause` for an
 * error that wraps another (drizzle and fetch do), and with `stack: true` `error_stack`, for failures nobody
 * expected (a bug, not a dependency that is down), where the stack is what finds the line at fault.
 * Spread it into the line's fields: `log.warn("pruning failed", errorFields(err))`.
 */
export function errorFields(err: unknown, opts: { stack?: boolean } = {}): LogFields {
  if (!isErrorLike(err)) return { error: errorMessage(err) };
  const fields: LogFields = { error: title(err) };
  if (typeof err.code === "string" || typeof err.code === "number") fields.error_code = err.code;
  if (err.cause !== undefined) fields.error_cause = isErrorLike(err.cause) ? title(err.cause) : errorMessage(err.cause);
  if (opts.stack && typeof err.stack === "string") fields.error_stack = err.stack;
  return fields;
}

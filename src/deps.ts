// The dependency bag handed to every feature: types only, no implementation, so any layer may import it.
// index.ts builds the real one; tests build their own (fresh database, fake clock, captured mail...).
import type { Config } from "./config.ts";
import type { Database } from "./db/client.ts";
import type { Mailer } from "./integrations/mailer.ts";

export type LogFields = Record<string, unknown>;
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

/** A readiness probe: resolves when the part works, throws with a reason when it does not. */
export type ReadinessCheck = () => Promise<void>;

export interface Deps {
  config: Config;
  database: Database;
  log: Logger;
  clock: Clock;
  mailer: Mailer;
  /** Absolute URL of a stored media object (set once storage is configured). */
  mediaUrl?: (key: string) => string;
  /** Named checks behind GET /readyz (database, storage, ...). */
  readiness: Record<string, ReadinessCheck>;
}

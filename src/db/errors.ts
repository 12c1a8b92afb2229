// Recognising the database's constraint errors. Uniqueness is the database's job (docs/architecture.md
// "Data rules"): a concurrent writer loses at the INSERT, and the caller turns that into an answer. bun:sqlite and libSQL
// word the error alike ("UNIQUE constraint failed: users.username"), and drizzle wraps driver errors, so the whole
// cause chain is read.

/** True when `err`, or an error it wraps, is a UNIQUE (or PRIMARY KEY) violation — on `column` when one is named. */
export function isUniqueViolation(err: unknown, column?: string): boolean {
  for (let e = err as { message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    const msg = typeof e === "object" ? String(e.message ?? "") : String(e);
    if (/UNIQUE|PRIMARY KEY/i.test(msg) && (!column || msg.includes(column))) return true;
    if (typeof e !== "object") break;
  }
  return false;
}

// Query-plan checks (docs/architecture.md "Data rules"): the SQL text of every statement a piece of work runs on a
// bun:sqlite connection, captured while it runs, so a test can EXPLAIN exactly what production prepares.
import type { Database as SQLite } from "bun:sqlite";

/** Runs `work` and returns the distinct read statements (SELECT / WITH) it prepared on `client`. */
export async function capturedReads(client: SQLite, work: () => Promise<void>): Promise<string[]> {
  const captured = new Set<string>();
  const original = { query: client.query, prepare: client.prepare };
  for (const name of ["query", "prepare"] as const) {
    const fn = original[name] as (text: string, ...rest: unknown[]) => unknown;
    (client as unknown as Record<string, unknown>)[name] = function (this: SQLite, text: string, ...rest: unknown[]) {
      if (!text.startsWith("EXPLAIN")) captured.add(text);
      return fn.call(this, text, ...rest);
    };
  }
  try {
    await work();
  } finally {
    Object.assign(client, original);
  }
  return [...captured].filter((text) => /^\s*(SELECT|WITH)\b/i.test(text));
}

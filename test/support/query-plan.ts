// EXPLAIN QUERY PLAN checks for the tests that prove a path reads by index only (docs/architecture.md "Data rules").
import type { Database as SQLite } from "bun:sqlite";

/** The plan's lines that read a whole table (or a whole index of one), given the tables the database has. */
export function tableScans(client: SQLite, text: string, tables: Set<string>): string[] {
  const plan = client.query(`EXPLAIN QUERY PLAN ${text}`).all() as { detail: string }[];
  // Aliases of real tables in this statement ("posts p", "posts AS fp", "\"posts\"").
  const aliases = new Set(tables);
  for (const m of text.matchAll(/["`]?\b(\w+)\b["`]?(?=\s+(?:AS\s+)?["`]?(\w+))/gi)) if (tables.has(m[1]!.toLowerCase())) aliases.add(m[2]!.toLowerCase());
  for (const kw of ["where", "join", "on", "inner", "left", "cross", "order", "group", "limit", "set", "values", "union"]) aliases.delete(kw);
  return plan
    .map((r) => r.detail)
    .filter((d) => {
      const m = /^(SCAN|SEARCH) (\S+)(.*)$/.exec(d);
      if (!m || !aliases.has(m[2]!.replace(/["`]/g, "").toLowerCase())) return false;
      // A search on `status` alone (three values) reads every ready post: a scan in all but name.
      return m[1] === "SCAN" || /\((status=\?)\)$/.test(m[3]!);
    });
}

/** Runs `fn` while recording the text of every statement prepared on `client`; returns the reads (SELECT / WITH). */
export async function capturedReads(client: SQLite, fn: () => Promise<unknown>): Promise<string[]> {
  const captured = new Set<string>();
  const original = { query: client.query, prepare: client.prepare };
  for (const name of ["query", "prepare"] as const) {
    const call = original[name] as (text: string, ...rest: unknown[]) => unknown;
    (client as unknown as Record<string, unknown>)[name] = function (this: SQLite, text: string, ...rest: unknown[]) {
      if (!text.startsWith("EXPLAIN")) captured.add(text);
      return call.call(this, text, ...rest);
    };
  }
  try {
    await fn();
  } finally {
    Object.assign(client, original);
  }
  return [...captured].filter((text) => /^\s*(SELECT|WITH)\b/i.test(text));
}

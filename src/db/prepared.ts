// Constant SQL text run as a cached prepared statement, on either driver. For hot read paths (the feeds) whose SQL
// is fixed: drizzle's `db.all(sql)` compiles the statement on every call, and its query builder cannot express
// row-value keysets or json_each() id lists without raw fragments anyway. bun:sqlite's `query()` keeps the compiled
// statement on the connection (keyed by the text); the libSQL client sends the text with its arguments. Because the
// text is a constant, tests run EXPLAIN QUERY PLAN on exactly what production runs.
import type { Database as SQLite } from "bun:sqlite";
import type { Client } from "@libsql/client/web";
import type { Database } from "./client.ts";

export type SqlParam = string | number | null;

/** Rows as plain objects keyed by column name (raw driver values: integers, reals, text, null). */
export async function queryRows<T = Record<string, unknown>>(database: Database, text: string, params: SqlParam[]): Promise<T[]> {
  // Looked up on every call (not cached here) so a test can wrap the client and count statements.
  const client = (database.db as unknown as { $client: unknown }).$client;
  if (database.kind === "sqlite") return (client as SQLite).query(text).all(...params) as T[];
  const rs = await (client as Client).execute({ sql: text, args: params });
  return rs.rows as unknown as T[];
}

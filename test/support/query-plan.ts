// EXPLAIN QUERY PLAN checks for the tests that prove a path reads by index only (docs/architecture.md "Data rules").
import type { Database as SQLite } from "bun:sqlite";
import { seedCommunity } from "./community.ts";
import { createTestEnv, type TestEnv } from "./deps.ts";

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

/**
 * The reads the app prepares while serving these GETs as the plugin sends them, signed in with `token` and signed out;
 * each must answer 200 with a non-empty list (posts, users, suggestions or genres), so the paths really ran.
 */
export async function readsOfRequests(env: TestEnv, client: SQLite, paths: string[], token: string): Promise<string[]> {
  return capturedReads(client, async () => {
    for (const path of paths)
      for (const auth of [token, undefined]) {
        const res = await env.request(path, { token: auth, headers: { "content-type": "application/json" } });
        const body = (await res.json()) as Record<string, unknown[] | undefined>;
        if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
        const n = (body.posts ?? body.users ?? body.suggestions ?? body.genres ?? []).length;
        if (n === 0) throw new Error(`${path}: found nothing`);
      }
  });
}

/** Null parameters for every placeholder of a statement (`?` or `?N`): plans here do not depend on values. */
export function nullParams(text: string): null[] {
  const n = (text.match(/\?(\d+)/g) ?? []).reduce((max, p) => Math.max(max, Number(p.slice(1))), 0) || (text.match(/\?/g) ?? []).length;
  return Array.from({ length: n }, () => null);
}

/** The connection of a bun:sqlite test env and the names of its tables (what tableScans needs). */
export function planClient(env: TestEnv): { client: SQLite; tables: Set<string> } {
  const client = (env.deps.database.db as unknown as { $client: SQLite }).$client;
  const rows = client.query("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
  return { client, tables: new Set(rows.map((r) => r.name.toLowerCase())) };
}

/**
 * A bun:sqlite env with a seeded community big enough for SQLite to plan as in production (it sizes plans by page
 * counts; no ANALYZE is run): 2,000 users, 20,000 ready posts over 60 days, the bench user signed in (its token).
 */
export async function plannedCommunity(reactions: number) {
  const env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost" });
  const password = "correct horse battery staple";
  const seeded = await seedCommunity(env.deps.database, {
    users: 2000,
    posts: 20_000,
    follows: 20_000,
    reactions,
    days: 60,
    benchFollows: 100,
    now: env.clock.now(),
    benchPasswordHash: await Bun.password.hash(password, { algorithm: "argon2id" }),
  });
  const login = await env.request("/api/v1/auth/login", { method: "POST", json: { email: seeded.benchUser.email, password } });
  const token = ((await login.json()) as { auth: { token: string } }).auth.token;
  return { env, token, ...planClient(env) };
}

// Query plans of search on bun:sqlite, on a seeded community of 20,000 ready posts (the index filled by the
// migration's triggers as the seed writes): EXPLAIN QUERY PLAN of every statement a search request really runs
// (captured from the connection while the requests are served) and of every search SQL text. A full scan of a table
// fails, and so does a sort of the loops' page: loops are read from FTS5 in rowid order (its index, "VIRTUAL TABLE
// INDEX …:M…" with the MATCH), each checked on its row by primary key. The one walk is the search by filters alone
// (key, BPM, duration, DAW), which reads search_posts by primary key newest first until the page is full (no sort):
// it is asserted as exactly that (docs/architecture.md "Search").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database as SQLite } from "bun:sqlite";
import { SEARCH_SQL } from "../../src/search/sql.ts";
import type { TestEnv } from "../support/deps.ts";
import { nullParams, plannedCommunity, readsOfRequests } from "../support/query-plan.ts";

type Plan = string[];
const planOf = (client: SQLite, text: string, params: (string | number | null)[]): Plan =>
  (client.query(`EXPLAIN QUERY PLAN ${text}`).all(...params) as { detail: string }[]).map((r) => r.detail);

/** Lines that read a whole real table (virtual tables are FTS5 or json_each, checked apart), or sort the result. */
function problems(plan: Plan, tables: Set<string>, aliases: Record<string, string> = {}): string[] {
  return plan.filter((d) => {
    if (/^USE TEMP B-TREE FOR ORDER BY/.test(d)) return false; // judged per statement below
    const m = /^SCAN (\S+)(.*)$/.exec(d);
    if (!m) return false;
    const name = aliases[m[1]!] ?? m[1]!;
    if (/VIRTUAL TABLE INDEX/.test(m[2]!)) return /fts/.test(name) && !/:M/.test(m[2]!); // an FTS5 table read without MATCH
    return tables.has(name.toLowerCase());
  });
}

describe("search query plans on sqlite", () => {
  let env: TestEnv;
  let client: SQLite;
  let tables: Set<string>;
  let token: string;

  beforeAll(async () => {
    // SQLite sizes its plans by the tables' page counts, so plans are checked on a community big enough to choose like
    // production: a plan that is fine on ten rows can read every post at 20,000.
    ({ env, client, tables, token } = await plannedCommunity(20_000));
  }, 120_000);
  afterAll(() => env.close());

  test("the index holds every ready loop of the seed", () => {
    const [{ n }] = client.query("SELECT count(*) AS n FROM search_posts").all() as { n: number }[];
    const [{ ready }] = client.query("SELECT count(*) AS ready FROM posts WHERE status = 'ready'").all() as { ready: number }[];
    expect(n).toBe(ready);
    expect(n).toBe(20_000);
  });

  const keys = JSON.stringify(["Am", "C"]);
  const filters = [100, 110, keys, "lofi", "ableton live", 1, 60, "someone"];
  const cases: [string, string, (string | number | null)[], Record<string, string>?][] = [
    ["postsByText", SEARCH_SQL.postsByText, ['"loop"*', Number.MAX_SAFE_INTEGER, ...filters, 21, 0]],
    ["postsByText, no filters", SEARCH_SQL.postsByText, ['"loop" AND "12"*', 5000, null, null, null, null, null, null, null, "", 21, 20]],
    ["users", SEARCH_SQL.users, ['"produc"*', "someone", 21, 0]],
    ["genres", SEARCH_SQL.genres, ["lo", `lo${String.fromCodePoint(0x10ffff)}`, 10]],
    ["titles", SEARCH_SQL.titles, ['{title} : ("loop"*)', "someone", 40]],
  ];
  for (const [name, text, params] of cases) {
    test(`${name}: no table scan`, () => {
      const plan = planOf(client, text, params);
      expect({ name, problems: problems(plan, tables) }).toEqual({ name, problems: [] });
      // The loops' pages come in FTS5 rowid order or index order: never sorted.
      if (name.startsWith("posts") || name === "titles") expect({ name, plan: plan.filter((d) => /TEMP B-TREE/.test(d)) }).toEqual({ name, plan: [] });
      if (name.startsWith("postsByText") || name === "titles" || name === "users")
        expect(plan.some((d) => /^SCAN search_(posts|users)_fts VIRTUAL TABLE INDEX \d+:M/.test(d))).toBe(true);
    });
  }

  test("postsByFilters walks search_posts newest first (primary key, descending) without sorting", () => {
    for (const f of [
      [100, 110, null],
      [null, null, keys],
      [90, null, keys],
    ]) {
      const walk = planOf(client, SEARCH_SQL.postsByFilters, ["", Number.MAX_SAFE_INTEGER, f[0]!, f[1]!, f[2]!, null, null, null, null, "", 21, 0]);
      expect(walk[0]).toMatch(/^SEARCH d USING INTEGER PRIMARY KEY \(rowid<\?\)$/);
      expect(walk.filter((d) => /TEMP B-TREE/.test(d))).toEqual([]);
    }
  });

  test("every statement a search request runs is an index search (captured from the connection)", async () => {
    const paths = [
      "/api/v1/search/posts?q=loop&limit=20&offset=0&bpm_min=100&bpm_max=110&key=Am",
      "/api/v1/search/posts?q=loop%2012&genre=lofi&daw=ableton%20live&duration_max=60",
      "/api/v1/search/posts?key=C&bpm_min=90",
      "/api/v1/search/users?q=producer1",
      "/api/v1/search/autocomplete/users?q=produ",
      "/api/v1/search/autocomplete/genres?q=lo",
      "/api/v1/search/suggestions?q=lo",
    ];
    const reads = await readsOfRequests(env, client, paths, token);
    expect(reads.length).toBeGreaterThan(5);
    for (const text of reads) {
      expect({ text, problems: problems(planOf(client, text, nullParams(text)), tables) }).toEqual({ text, problems: [] });
    }
  });
});

// Query plans of discover on bun:sqlite, on a seeded community of 20,000 ready loops (post_genres filled by the
// migration's triggers as the seed writes; docs/architecture.md "Discover"): EXPLAIN QUERY PLAN of every discover SQL
// text and of every statement a discover request really runs (captured from the connection). No plan reads a whole
// real table. Loops are index ranges: a genre's loops a range of post_genres_genre_idx read in order (no sort),
// similar loops three ranges of post_genres_similar_idx per shared genre (covering; the candidates alone are sorted,
// and for a loop of one genre, the most common, only the top of them is kept while sorting: nothing is grouped).
// Genres with counts read the counts table search_genres (one row per genre, not the loops). The one walk is the
// popular producers' list, which reads users_popular_idx from the most followed down until the page is full (asserted
// as exactly that, like search's walk by filters).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database as SQLite } from "bun:sqlite";
import { DISCOVER_SQL } from "../../src/discover/sql.ts";
import type { TestEnv } from "../support/deps.ts";
import { nullParams, plannedCommunity, readsOfRequests } from "../support/query-plan.ts";

type Plan = string[];
const planOf = (client: SQLite, text: string, params: (string | number | null)[]): Plan =>
  (client.query(`EXPLAIN QUERY PLAN ${text}`).all(...params) as { detail: string }[]).map((r) => r.detail);

/** Lines that read a whole table or index (other than the allowed walks): any SCAN but of json_each or a subquery's rows. */
function scans(plan: Plan, allowed: RegExp[] = []): string[] {
  return plan.filter((d) => {
    const m = /^SCAN (\S+)(.*)$/.exec(d);
    if (!m || allowed.some((a) => a.test(d))) return false;
    return !(/^VIRTUAL TABLE INDEX/.test(m[2]!.trim()) || /^(fans|c|CONSTANT|\(subquery-\d+\))$/.test(m[1]!));
  });
}

const POPULAR_WALK = /^SCAN u USING INDEX users_popular_idx$/;

describe("discover query plans on sqlite", () => {
  let env: TestEnv;
  let client: SQLite;
  let token: string;

  beforeAll(async () => {
    ({ env, client, token } = await plannedCommunity(20_000));
  }, 120_000);
  afterAll(() => env.close());

  test("the index holds a row per genre of every ready loop", () => {
    const [{ n }] = client.query("SELECT count(*) AS n FROM post_genres").all() as { n: number }[];
    const [{ ready }] = client.query("SELECT count(*) AS ready FROM posts WHERE status = 'ready'").all() as { ready: number }[];
    expect(n).toBe(ready);
    const [{ unknown }] = client.query("SELECT count(*) AS unknown FROM post_genres WHERE key_class IS NULL").all() as { unknown: number }[];
    expect(unknown).toBe(0);
  });

  test("genres with counts reads the counts table only", () => {
    const plan = planOf(client, DISCOVER_SQL.genres, [50]);
    expect(plan.filter((d) => /^(SCAN|SEARCH) /.test(d))).toEqual(["SCAN search_genres"]);
  });

  test("a genre's loops: a range of post_genres_genre_idx in order, no sort", () => {
    const plan = planOf(client, DISCOVER_SQL.loopsByGenre, ["lofi", Number.MAX_SAFE_INTEGER, "someone", 21, 0]);
    expect(plan).toContain("SEARCH g USING COVERING INDEX post_genres_genre_idx (genre=? AND doc_id<?)");
    expect(plan.filter((d) => /TEMP B-TREE/.test(d))).toEqual([]);
    expect(scans(plan)).toEqual([]);
  });

  test("similar loops: three covering ranges of post_genres_similar_idx (genre, key class, BPM)", () => {
    const plan = planOf(client, DISCOVER_SQL.similar, [JSON.stringify(["lofi", "jazz"]), 0, 120, "x", "someone", 11, 0]);
    const ranges = plan.filter((d) => d.includes("post_genres_similar_idx"));
    expect(ranges).toEqual(Array(3).fill("SEARCH g USING COVERING INDEX post_genres_similar_idx (genre=? AND key_class=? AND bpm>? AND bpm<?)"));
    expect(scans(plan)).toEqual([]);
    const one = planOf(client, DISCOVER_SQL.similarOneGenre, ["lofi", 0, 120, "x", "someone", 11, 0]);
    expect(one.filter((d) => d.includes("post_genres_similar_idx"))).toEqual(ranges);
    expect(one.filter((d) => /GROUP BY/.test(d))).toEqual([]);
    expect(scans(one)).toEqual([]);
  });

  test("producers: friends of friends by primary-key ranges; popular producers walk users_popular_idx without sorting", () => {
    const fof = planOf(client, DISCOVER_SQL.friendsOfFriends, ["someone", 0, 11, 0]);
    expect(fof.some((d) => /^SEARCH f1 USING COVERING INDEX sqlite_autoindex_follows_1 \(follower_id=\?\)$/.test(d))).toBe(true);
    expect(scans(fof)).toEqual([]);
    const popular = planOf(client, DISCOVER_SQL.popular, ["someone", 0, 11, 0]);
    expect(popular[0]).toMatch(POPULAR_WALK);
    expect(popular.filter((d) => /TEMP B-TREE/.test(d))).toEqual([]);
    expect(scans(popular, [POPULAR_WALK])).toEqual([]);
    const co = planOf(client, DISCOVER_SQL.coFollowed, ["someone", "viewer", 10]);
    expect(co.some((d) => /^SEARCH follows USING INDEX follows_followee_idx \(followee_id=\?\)$/.test(d))).toBe(true);
    expect(scans(co)).toEqual([]);
  });

  test("every statement a discover request runs is an index search (captured from the connection)", async () => {
    const [{ source, user }] = client.query("SELECT post_id AS source, user_id AS user FROM post_genres ORDER BY doc_id DESC LIMIT 1").all() as {
      source: string;
      user: string;
    }[];
    const paths = [
      "/api/v1/discover/genres",
      "/api/v1/discover/genre/lofi?limit=20&offset=0",
      `/api/v1/recommendations/similar-posts/${source}?limit=10`,
      "/api/v1/users/recommended?limit=10&offset=0",
      "/api/v1/discover/featured?limit=10",
      "/api/v1/discover/trending?limit=10",
      `/api/v1/users/${user}/similar?limit=10`,
    ];
    const reads = await readsOfRequests(env, client, paths, token);
    for (const text of [DISCOVER_SQL.genres, DISCOVER_SQL.loopsByGenre, DISCOVER_SQL.similarOneGenre, DISCOVER_SQL.friendsOfFriends, DISCOVER_SQL.popular])
      expect(reads).toContain(text);
    for (const text of reads) {
      const allowed = text === DISCOVER_SQL.popular ? [POPULAR_WALK] : text === DISCOVER_SQL.genres ? [/^SCAN search_genres$/] : [];
      expect({ text, problems: scans(planOf(client, text, nullParams(text)), allowed) }).toEqual({ text, problems: [] });
    }
  });
});

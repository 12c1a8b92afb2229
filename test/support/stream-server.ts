// A local HTTP server standing in for Stream.io's feeds API (v3 paths, as @stream-io/node-sdk calls them), as strict
// as Stream's documented API. Like the real one it refuses a call without the right api_key query parameter or
// without a server token (JWT HS256 signed with the API secret, claim server: true) in Authorization, and:
//   - feeds exist only in the built-in groups (user, timeline, foryou, notification, story, stories);
//   - activities, reactions, feeds and follows naming a user it does not know are refused, unless the call passes
//     `create_users: true` where the API offers it (activities, reactions, follows); a feed needs a known user;
//   - reactions are keyed by activity, user and type: `enforce_unique` replaces the user's other reactions on the
//     activity, and without it the same type twice is refused;
//   - deletes honour `hard_delete`: without it an activity or feed is only marked deleted (and counts as gone);
//   - upserting users takes at most 100 at once; a batch of feeds that names an existing feed is refused (the API
//     does not document that case, so the stand-in takes the stricter reading and the mirror copes with both);
//   - the one read it answers is the app's feed groups (GET /api/v2/feeds/feed_groups, what `sidechain doctor` reads);
//   - "does not exist" is Stream's error code 16 with a configurable HTTP status (404 by default; tests also use
//     400, since v3 does not document 404 for a missing activity or reaction).
// It keeps the state the calls build, counts how often each object was *created* (a second create of the same object
// would be a duplicate), records every call, and can be switched to fail:
//   "down"          every call answers 503 and changes nothing (an outage);
//   "lose-answers"  writes of activities and their reactions (/api/v2/feeds/activities...) are applied, then answer
//                   503: the answer is lost, the client must retry safely. Other calls work.
// `downAfter(n)` lets n more calls through and then goes "down" (an outage in the middle of a backfill).
import { jwtVerify } from "jose";

export type StreamCall = { method: string; path: string; query: Record<string, string>; body: any; status: number };
export type FakeStreamMode = "up" | "down" | "lose-answers";

export const STREAM_GROUPS = ["user", "timeline", "foryou", "notification", "story", "stories"];

export type FakeStream = {
  url: string;
  calls: StreamCall[];
  /** Successful calls (2xx). */
  ok(): StreamCall[];
  mode(m: FakeStreamMode): void;
  /** Lets `n` more calls through, then every call answers 503 until mode("up"). */
  downAfter(n: number): void;
  /** Runs `hook` (awaited) before each authenticated call is applied, until set to null: something happening meanwhile. */
  beforeCall(hook: ((call: StreamCall) => Promise<void>) | null): void;
  /** The HTTP status of a "does not exist" answer (its body always carries Stream's code 16). */
  notFoundStatus(status: number): void;
  users: Map<string, any>;
  /** Live feeds (not deleted): fid → the user that owns it. */
  feeds: Map<string, string>;
  /** Live activities (not deleted). */
  activities: Map<string, any>;
  /** "timeline:<a> user:<b>" */
  follows: Set<string>;
  /** "<activity id> <user id> <type>" → custom */
  reactions: Map<string, any>;
  /** object key → times it was created ("activity:<id>", "follow:<src> <tgt>", "reaction:<act> <user> <type>", "user:<id>", "feed:<fid>"). */
  creates: Map<string, number>;
  /** Everything it holds, in a stable order, for comparing with what our database says it should hold. */
  snapshot(): FakeStreamState;
  reset(): void;
  stop(): Promise<void>;
};

export type FakeStreamState = {
  users: { id: string; name?: string; image?: string; custom?: unknown }[];
  feeds: string[];
  activities: { id: string; user_id: string; feeds: string[]; text: string; custom: unknown }[];
  follows: string[];
  reactions: { activity_id: string; user_id: string; type: string; custom: unknown }[];
};

export async function startFakeStream(opts: { apiKey: string; secret: string; notFoundStatus?: number }): Promise<FakeStream> {
  const secret = new TextEncoder().encode(opts.secret);
  let mode: FakeStreamMode = "up";
  let callsLeft = Number.POSITIVE_INFINITY;
  let notFoundStatus = opts.notFoundStatus ?? 404;
  let before: ((call: StreamCall) => Promise<void>) | null = null;
  const calls: StreamCall[] = [];
  const users = new Map<string, any>();
  const feeds = new Map<string, string>();
  const activities = new Map<string, any>();
  const follows = new Set<string>();
  const reactions = new Map<string, any>();
  /** "<activity id> <user id>" → that user's reaction types on it; "<activity id>" → its reacting users. */
  const typesOf = new Map<string, Set<string>>();
  const reactorsOf = new Map<string, Set<string>>();
  const creates = new Map<string, number>();
  const created = (key: string) => creates.set(key, (creates.get(key) ?? 0) + 1);

  const answer = (status: number, body: Record<string, unknown> = {}) => Response.json({ duration: "0.10ms", ...body }, { status });
  const fail = (status: number, code: number, message: string) => Response.json({ code, message, StatusCode: status, duration: "0.10ms" }, { status });
  const notFound = (message: string) => fail(notFoundStatus, 16, message);
  const input = (message: string) => fail(400, 4, message);

  /** A refusal, or null when the user exists (or may be created, and then is). */
  function needUser(id: unknown, createUsers: boolean): Response | null {
    if (typeof id !== "string" || !id) return input("user_id is required for server-side requests");
    if (users.has(id)) return null;
    if (!createUsers) return notFound(`user ${id} does not exist`);
    return null;
  }
  function createUser(id: string) {
    if (users.has(id)) return;
    created(`user:${id}`);
    users.set(id, { id });
  }
  function needFeed(fid: unknown): Response | null {
    if (typeof fid !== "string" || !fid.includes(":")) return input(`"${fid}" is not a feed id (group:id)`);
    if (!STREAM_GROUPS.includes(fid.split(":")[0]!)) return notFound(`feed group ${fid.split(":")[0]} does not exist`);
    return feeds.has(fid) ? null : notFound(`feed ${fid} does not exist`);
  }
  function setReaction(activity: string, user: string, type: string, custom: unknown) {
    reactions.set(`${activity} ${user} ${type}`, custom);
    typesOf.set(`${activity} ${user}`, (typesOf.get(`${activity} ${user}`) ?? new Set()).add(type));
    reactorsOf.set(activity, (reactorsOf.get(activity) ?? new Set()).add(user));
  }
  function dropReaction(activity: string, user: string, type: string): boolean {
    typesOf.get(`${activity} ${user}`)?.delete(type);
    return reactions.delete(`${activity} ${user} ${type}`);
  }
  function dropActivity(id: string) {
    activities.delete(id);
    for (const user of reactorsOf.get(id) ?? []) for (const type of [...(typesOf.get(`${id} ${user}`) ?? [])]) dropReaction(id, user, type);
    reactorsOf.delete(id);
  }
  function activityProblem(a: any, createUsers: boolean): Response | null {
    if (!a?.id || !a?.type || !Array.isArray(a.feeds) || !a.feeds.length) return input("id, type and feeds are required");
    const who = needUser(a.user_id, createUsers);
    if (who) return who;
    for (const f of a.feeds) {
      const missing = needFeed(f);
      if (missing) return missing;
    }
    return null;
  }
  function putActivity(a: any, createUsers: boolean) {
    if (createUsers) createUser(a.user_id);
    // Create or update: the same id twice is one activity.
    if (!activities.has(a.id)) created(`activity:${a.id}`);
    const { create_users: _, ...activity } = a;
    activities.set(a.id, activity);
  }
  function followProblem(f: any, createUsers: boolean): Response | null {
    for (const fid of [f?.source, f?.target]) {
      const missing = needFeed(fid);
      if (missing) return missing;
      const who = needUser(feeds.get(fid), createUsers);
      if (who) return who;
    }
    return null;
  }
  function putFollow(f: any) {
    const key = `${f.source} ${f.target}`;
    if (!follows.has(key)) created(`follow:${key}`);
    follows.add(key);
    return { source_feed: { feed: f.source }, target_feed: { feed: f.target } };
  }

  /** Applies a call to the state; returns the answer it would give. */
  function route(method: string, path: string, query: Record<string, string>, body: any): Response {
    let m: RegExpMatchArray | null;
    // The one read `sidechain doctor` makes: the app's feed groups (the built-in ones).
    if (method === "GET" && path === "/api/v2/feeds/feed_groups") {
      const at = new Date(0).toISOString();
      return answer(200, { groups: Object.fromEntries(STREAM_GROUPS.map((id) => [id, { id, created_at: at, updated_at: at, default_visibility: "public" }])) });
    }
    if (method === "POST" && path === "/api/v2/users") {
      const list = Object.values(body?.users ?? {}) as any[];
      if (list.length > 100) return input("at most 100 users can be upserted at once");
      for (const u of list) {
        if (!u?.id) return input("a user needs an id");
        if (!users.has(u.id)) created(`user:${u.id}`);
        users.set(u.id, u);
      }
      return answer(201, { users: body.users });
    }
    if (method === "POST" && path === "/api/v2/users/delete") {
      if (!Array.isArray(body?.user_ids) || !body.user_ids.length) return input("user_ids is required");
      // Deletion is a background task in Stream; here it is done at once (soft, pruning or hard alike).
      for (const id of body.user_ids) users.delete(id);
      return answer(201, { task_id: crypto.randomUUID() });
    }
    if ((m = path.match(/^\/api\/v2\/feeds\/feed_groups\/([^/]+)\/feeds\/([^/]+)$/))) {
      const fid = `${m[1]}:${decodeURIComponent(m[2]!)}`;
      if (!STREAM_GROUPS.includes(m[1]!)) return notFound(`feed group ${m[1]} does not exist`);
      if (method === "POST") {
        const who = needUser(body?.user_id, false);
        if (who) return who;
        const isNew = !feeds.has(fid);
        if (isNew) created(`feed:${fid}`);
        if (isNew) feeds.set(fid, body.user_id);
        return answer(201, { created: isNew, activities: [], aggregated_activities: [], followers: [], following: [], members: [], pinned_activities: [] });
      }
      if (method === "DELETE") {
        if (!feeds.has(fid)) return notFound(`feed ${fid} does not exist`);
        feeds.delete(fid);
        for (const k of [...follows]) if (k.split(" ").includes(fid)) follows.delete(k);
        // A hard delete takes the feed's own activities with it; a soft one only hides the feed.
        if (query.hard_delete === "true") for (const [id, a] of [...activities]) if (a.feeds.length === 1 && a.feeds[0] === fid) dropActivity(id);
        return answer(200, { task_id: crypto.randomUUID() });
      }
    }
    if (method === "POST" && path === "/api/v2/feeds/feeds/batch") {
      const list = Array.isArray(body?.feeds) ? body.feeds : [];
      if (!list.length) return input("feeds is required");
      for (const f of list) {
        const fid = `${f?.feed_group_id}:${f?.feed_id}`;
        if (!STREAM_GROUPS.includes(f?.feed_group_id)) return notFound(`feed group ${f?.feed_group_id} does not exist`);
        if (feeds.has(fid)) return input(`feed ${fid} already exists`);
        const who = needUser(f.created_by_id, false);
        if (who) return who;
      }
      for (const f of list) {
        const fid = `${f.feed_group_id}:${f.feed_id}`;
        created(`feed:${fid}`);
        feeds.set(fid, f.created_by_id);
      }
      return answer(201, { feeds: list.map((f: any) => ({ feed: `${f.feed_group_id}:${f.feed_id}` })) });
    }
    if (method === "POST" && path === "/api/v2/feeds/activities") {
      const problem = activityProblem(body, body?.create_users === true);
      if (problem) return problem;
      putActivity(body, body.create_users === true);
      return answer(201, { activity: { id: body.id } });
    }
    if (method === "POST" && path === "/api/v2/feeds/activities/batch") {
      const list = Array.isArray(body?.activities) ? body.activities : [];
      if (!list.length) return input("activities is required");
      for (const a of list) {
        const problem = activityProblem(a, body.create_users === true);
        if (problem) return problem;
      }
      for (const a of list) putActivity(a, body.create_users === true);
      return answer(201, { activities: list.map((a: any) => ({ id: a.id })) });
    }
    if (method === "DELETE" && (m = path.match(/^\/api\/v2\/feeds\/activities\/([^/]+)$/))) {
      const id = decodeURIComponent(m[1]!);
      if (!activities.has(id)) return notFound(`activity ${id} does not exist`);
      // Soft-deleted activities are hidden here like hard-deleted ones (Stream keeps them restorable).
      if (query.hard_delete === "true") dropActivity(id);
      else activities.delete(id);
      return answer(200);
    }
    if (method === "POST" && path === "/api/v2/feeds/follows/upsert") {
      const problem = followProblem(body, body?.create_users === true);
      if (problem) return problem;
      return answer(201, { follow: putFollow(body) });
    }
    if (method === "POST" && path === "/api/v2/feeds/follows/batch/upsert") {
      const list = Array.isArray(body?.follows) ? body.follows : [];
      if (!list.length) return input("follows is required");
      if (list.some((f: any) => "create_users" in f)) return input("follows[i].create_users is not allowed on batch endpoints: use the top-level field");
      for (const f of list) {
        const problem = followProblem(f, body.create_users === true);
        if (problem) return problem;
      }
      const before = new Set(follows);
      const result = list.map(putFollow);
      return answer(201, { follows: result, created: result.filter((f: any) => !before.has(`${f.source_feed.feed} ${f.target_feed.feed}`)) });
    }
    if (method === "POST" && path === "/api/v2/feeds/unfollow/upsert") {
      follows.delete(`${body?.source} ${body?.target}`);
      return answer(200);
    }
    if (method === "POST" && (m = path.match(/^\/api\/v2\/feeds\/activities\/([^/]+)\/reactions$/))) {
      const id = decodeURIComponent(m[1]!);
      if (!activities.has(id)) return notFound(`activity ${id} does not exist`);
      if (!body?.type) return input("type is required");
      const who = needUser(body.user_id, body.create_users === true);
      if (who) return who;
      if (body.create_users === true) createUser(body.user_id);
      const key = `${id} ${body.user_id} ${body.type}`;
      if (body.enforce_unique) {
        for (const type of [...(typesOf.get(`${id} ${body.user_id}`) ?? [])]) if (type !== body.type) dropReaction(id, body.user_id, type);
      } else if (reactions.has(key)) {
        return input(`user ${body.user_id} already reacted ${body.type} to activity ${id}`);
      }
      if (!reactions.has(key)) created(`reaction:${key}`);
      setReaction(id, body.user_id, body.type, body.custom);
      return answer(201, { reaction: { activity_id: id, type: body.type, user: { id: body.user_id } } });
    }
    if (method === "DELETE" && (m = path.match(/^\/api\/v2\/feeds\/activities\/([^/]+)\/reactions\/([^/]+)$/))) {
      if (!dropReaction(decodeURIComponent(m[1]!), query.user_id ?? "", decodeURIComponent(m[2]!))) return notFound("reaction does not exist");
      return answer(200);
    }
    return notFound(`no route ${method} ${path}`);
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const query = Object.fromEntries(url.searchParams);
      const text = req.method === "GET" || req.method === "DELETE" ? "" : await req.text();
      let body: any;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        /* recorded as undefined */
      }
      const call: StreamCall = { method: req.method, path: url.pathname, query, body, status: 0 };
      calls.push(call);
      const res = await (async () => {
        if (query.api_key !== opts.apiKey) return fail(401, 2, "api_key not valid");
        try {
          const { payload, protectedHeader } = await jwtVerify(req.headers.get("authorization") ?? "", secret, { algorithms: ["HS256"] });
          if (protectedHeader.alg !== "HS256" || payload.server !== true) return fail(401, 5, "not a server token");
        } catch {
          return fail(401, 5, "token signature is invalid");
        }
        await before?.(call);
        if (callsLeft <= 0) mode = "down";
        callsLeft--;
        if (mode === "down") return fail(503, -1, "service unavailable");
        const r = route(req.method, url.pathname, query, body);
        return mode === "lose-answers" && url.pathname.startsWith("/api/v2/feeds/activities") ? fail(503, -1, "the answer was lost") : r;
      })();
      call.status = res.status;
      return res;
    },
  });

  const sorted = <T>(list: T[], key: (t: T) => string) => list.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return {
    url: `http://127.0.0.1:${server.port}`,
    calls,
    ok: () => calls.filter((c) => c.status >= 200 && c.status < 300),
    mode: (m) => {
      mode = m;
      callsLeft = Number.POSITIVE_INFINITY;
    },
    downAfter: (n) => void (callsLeft = n),
    beforeCall: (hook) => void (before = hook),
    notFoundStatus: (s) => void (notFoundStatus = s),
    users,
    feeds,
    activities,
    follows,
    reactions,
    creates,
    snapshot: () => ({
      users: sorted([...users.values()], (u) => u.id),
      feeds: [...feeds.keys()].sort(),
      activities: sorted(
        [...activities.values()].map((a) => ({ id: a.id, user_id: a.user_id, feeds: a.feeds, text: a.text, custom: a.custom })),
        (a) => a.id,
      ),
      follows: [...follows].sort(),
      reactions: sorted(
        [...reactions].map(([k, custom]) => {
          const [activity_id, user_id, type] = k.split(" ") as [string, string, string];
          return { activity_id, user_id, type, custom };
        }),
        (r) => `${r.activity_id} ${r.user_id} ${r.type}`,
      ),
    }),
    reset: () => {
      for (const c of [calls, users, feeds, activities, follows, reactions, typesOf, reactorsOf, creates] as { length?: number; clear?: () => void }[]) {
        if (Array.isArray(c)) c.length = 0;
        else c.clear?.();
      }
      mode = "up";
      callsLeft = Number.POSITIVE_INFINITY;
      notFoundStatus = opts.notFoundStatus ?? 404;
      before = null;
    },
    stop: () => server.stop(true),
  };
}

// A local HTTP server standing in for Stream.io's feeds API (v3 paths, as @stream-io/node-sdk calls them). Like the
// real one it refuses a call without the right api_key query parameter or without a server token (JWT HS256 signed
// with the API secret, claim server: true) in Authorization. It keeps the state the calls build (users, feeds,
// activities, follows, reactions), counts how often each object was *created* (a second create of the same object
// would be a duplicate), records every call, and can be switched to fail:
//   "down"          every call answers 503 and changes nothing (an outage);
//   "lose-answers"  writes of activities and their reactions (/api/v2/feeds/activities...) are applied, then answer
//                   503: the answer is lost, the client must retry safely. Other calls work.
import { jwtVerify } from "jose";

export type StreamCall = { method: string; path: string; query: Record<string, string>; body: any; status: number };
export type FakeStreamMode = "up" | "down" | "lose-answers";

export type FakeStream = {
  url: string;
  calls: StreamCall[];
  /** Successful calls (2xx). */
  ok(): StreamCall[];
  mode(m: FakeStreamMode): void;
  users: Map<string, any>;
  feeds: Set<string>;
  activities: Map<string, any>;
  /** "timeline:<a> user:<b>" */
  follows: Set<string>;
  /** "<activity id> <user id>" → reaction */
  reactions: Map<string, { type: string; custom: any }>;
  /** object key → times it was created ("activity:<id>", "follow:<src> <tgt>", "reaction:<act> <user>", "user:<id>", "feed:<fid>"). */
  creates: Map<string, number>;
  stop(): Promise<void>;
};

export async function startFakeStream(opts: { apiKey: string; secret: string }): Promise<FakeStream> {
  const secret = new TextEncoder().encode(opts.secret);
  let mode: FakeStreamMode = "up";
  const calls: StreamCall[] = [];
  const users = new Map<string, any>();
  const feeds = new Set<string>();
  const activities = new Map<string, any>();
  const follows = new Set<string>();
  const reactions = new Map<string, { type: string; custom: any }>();
  const creates = new Map<string, number>();
  const created = (key: string) => creates.set(key, (creates.get(key) ?? 0) + 1);

  const answer = (status: number, body: Record<string, unknown> = {}) => Response.json({ duration: "0.10ms", ...body }, { status });
  const fail = (status: number, code: number, message: string) => Response.json({ code, message, StatusCode: status, duration: "0.10ms" }, { status });

  /** Applies a call to the state; returns the answer it would give. */
  function route(method: string, path: string, query: Record<string, string>, body: any): Response {
    let m: RegExpMatchArray | null;
    if (method === "POST" && path === "/api/v2/users") {
      for (const u of Object.values(body?.users ?? {}) as any[]) {
        if (!users.has(u.id)) created(`user:${u.id}`);
        users.set(u.id, u);
      }
      return answer(201, { users: body.users });
    }
    if (method === "POST" && (m = path.match(/^\/api\/v2\/feeds\/feed_groups\/([^/]+)\/feeds\/([^/]+)$/))) {
      const fid = `${m[1]}:${decodeURIComponent(m[2]!)}`;
      if (!body?.user_id) return fail(400, 4, "user_id is required for server-side requests");
      const isNew = !feeds.has(fid);
      if (isNew) created(`feed:${fid}`);
      feeds.add(fid);
      return answer(201, { created: isNew, activities: [], aggregated_activities: [], followers: [], following: [], members: [], pinned_activities: [] });
    }
    if (method === "POST" && path === "/api/v2/feeds/activities") {
      if (!body?.id || !body?.type || !Array.isArray(body.feeds) || !body.user_id) return fail(400, 4, "id, type, feeds and user_id are required");
      for (const f of body.feeds) if (!feeds.has(f)) return fail(404, 16, `feed ${f} does not exist`);
      // Create or update: the same id twice is one activity.
      if (!activities.has(body.id)) created(`activity:${body.id}`);
      activities.set(body.id, body);
      return answer(201, { activity: { id: body.id } });
    }
    if (method === "DELETE" && (m = path.match(/^\/api\/v2\/feeds\/activities\/([^/]+)$/))) {
      const id = decodeURIComponent(m[1]!);
      if (!activities.delete(id)) return fail(404, 16, "activity not found");
      for (const k of [...reactions.keys()]) if (k.startsWith(`${id} `)) reactions.delete(k);
      return answer(200);
    }
    if (method === "POST" && path === "/api/v2/feeds/follows/upsert") {
      if (!feeds.has(body?.source) || !feeds.has(body?.target)) return fail(404, 16, "source or target feed does not exist");
      const key = `${body.source} ${body.target}`;
      if (!follows.has(key)) created(`follow:${key}`);
      follows.add(key);
      return answer(201, { follow: { source_feed: { feed: body.source }, target_feed: { feed: body.target } } });
    }
    if (method === "POST" && path === "/api/v2/feeds/unfollow/upsert") {
      follows.delete(`${body?.source} ${body?.target}`);
      return answer(200);
    }
    if (method === "POST" && (m = path.match(/^\/api\/v2\/feeds\/activities\/([^/]+)\/reactions$/))) {
      const id = decodeURIComponent(m[1]!);
      if (!activities.has(id)) return fail(404, 16, "activity not found");
      if (!body?.type || !body?.user_id) return fail(400, 4, "type and user_id are required");
      const key = `${id} ${body.user_id}`;
      if (reactions.has(key) && !body.enforce_unique) return fail(400, 4, "the user already reacted (enforce_unique is off)");
      if (!reactions.has(key)) created(`reaction:${key}`);
      reactions.set(key, { type: body.type, custom: body.custom });
      return answer(201, { reaction: { type: body.type } });
    }
    if (method === "DELETE" && (m = path.match(/^\/api\/v2\/feeds\/activities\/([^/]+)\/reactions\/([^/]+)$/))) {
      const key = `${decodeURIComponent(m[1]!)} ${query.user_id}`;
      const r = reactions.get(key);
      if (!r || r.type !== decodeURIComponent(m[2]!)) return fail(404, 16, "reaction not found");
      reactions.delete(key);
      return answer(200);
    }
    return fail(404, 16, `no route ${method} ${path}`);
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
        if (mode === "down") return fail(503, -1, "service unavailable");
        const r = route(req.method, url.pathname, query, body);
        return mode === "lose-answers" && url.pathname.startsWith("/api/v2/feeds/activities") ? fail(503, -1, "the answer was lost") : r;
      })();
      call.status = res.status;
      return res;
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    calls,
    ok: () => calls.filter((c) => c.status >= 200 && c.status < 300),
    mode: (m) => void (mode = m),
    users,
    feeds,
    activities,
    follows,
    reactions,
    creates,
    stop: () => server.stop(true),
  };
}

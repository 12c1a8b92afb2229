// A really listening server for the realtime scenarios: start() from src/index.ts on port 0, in process, on a
// fresh DATA_DIR; producers registered over HTTP; follows and ready posts written like the features write them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { loadConfig } from "../../src/config.ts";
import { users } from "../../src/db/schema.ts";
import { start, type Running, type StartOverrides } from "../../src/index.ts";
import { insertFollow, insertReadyPost } from "./ready-posts.ts";
import type { TestEnv } from "./deps.ts";
import { WsClient } from "./ws.ts";

export type Producer = { id: string; token: string; username: string };

export type RealtimeServer = {
  running: Running;
  url: string;
  dataDir: string;
  producer(name?: string): Promise<Producer>;
  follow(follower: Producer, followee: Producer): Promise<void>;
  readyPost(author: Producer): Promise<string>;
  hide(p: Producer): Promise<void>;
  connect(p: Producer | string): Promise<WsClient>;
  get(path: string, token?: string): Promise<Response>;
  stop(opts?: { keepData?: boolean }): Promise<void>;
};

let n = 0;

export async function startRealtime(
  env: Record<string, string> = {},
  overrides: StartOverrides = {},
  dataDir = mkdtempSync(join(tmpdir(), "sc-rt-")),
): Promise<RealtimeServer> {
  const config = loadConfig({ DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "error", RATE_LIMIT_AUTH_PER_MIN: "100000", ...env });
  const running = await start(config, overrides);
  const url = running.url;
  // What the shared test helpers (ready-posts.ts) need of a TestEnv.
  const asEnv = { deps: running.deps, clock: running.deps.clock } as unknown as TestEnv;
  return {
    running,
    url,
    dataDir,
    async producer(name) {
      n++;
      const username = name ?? `rt${n}_${process.pid % 10000}`;
      const res = await fetch(`${url}/api/v1/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: `${username}@example.com`, username, password: "correct horse battery staple" }),
      });
      const body = (await res.json()) as { auth: { token: string; user: { id: string } } };
      if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(body)}`);
      return { id: body.auth.user.id, token: body.auth.token, username };
    },
    follow: (a, b) => insertFollow(asEnv, a.id, b.id),
    readyPost: (a) => insertReadyPost(asEnv, a.id),
    async hide(p) {
      await running.deps.database.db.update(users).set({ showActivityStatus: false }).where(eq(users.id, p.id));
    },
    connect: (p) => WsClient.connect(url, typeof p === "string" ? p : p.token),
    get: (path, token) => fetch(`${url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }),
    async stop(opts = {}) {
      await running.stop();
      if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Waits until `check` holds (polling), for server-side state a test cannot await directly. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = "condition") {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

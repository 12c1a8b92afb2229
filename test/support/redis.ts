// A throwaway redis-server for the scale-out tests: a free port, no persistence, stopped by the test.
import { existsSync } from "node:fs";
import { freePort, waitFor } from "./net.ts";

export const REDIS_SERVER = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].find((p) => existsSync(p)) ?? Bun.which("redis-server");

if (!REDIS_SERVER) {
  console.warn(
    "\n!!! redis-server is not installed: the Redis (scale-out) realtime tests are SKIPPED. `.ci/run` installs it (apt-get install redis-server).\n",
  );
}

export type RedisServer = { url: string; port: number; stop(): Promise<void> };

export async function startRedis(): Promise<RedisServer> {
  if (!REDIS_SERVER) throw new Error("redis-server is not installed");
  const port = await freePort();
  const proc = Bun.spawn([REDIS_SERVER, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdout: "ignore",
    stderr: "pipe",
  });
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      const c = new Bun.RedisClient(url, { autoReconnect: false, connectionTimeout: 500 });
      try {
        await c.connect();
        return (await c.ping()) === "PONG";
      } finally {
        c.close();
      }
    },
    10_000,
    () => proc.exitCode !== null,
  );
  return {
    url,
    port,
    async stop() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

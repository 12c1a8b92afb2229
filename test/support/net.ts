import { createServer } from "node:net";

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns true; throws after `timeoutMs` or when `gaveUp()` says the process died. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, gaveUp: () => boolean = () => false) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (gaveUp()) throw new Error("process exited before it was ready");
    try {
      if (await check()) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end) throw new Error(`not ready after ${timeoutMs} ms`);
    await Bun.sleep(25);
  }
}

import { describe, expect, test } from "bun:test";
import { createLimiter, withTimeout } from "./limit.ts";

test("at most n tasks run at once, the rest in FIFO order", async () => {
  const limit = createLimiter(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      limit(async () => {
        order.push(i);
        peak = Math.max(peak, ++running);
        await Bun.sleep(5);
        running--;
      }),
    ),
  );
  expect(peak).toBe(2);
  expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  expect(limit.active).toBe(0);
});

test("a wait can be aborted; the slot then goes to the next in line, and release is idempotent", async () => {
  const limit = createLimiter(1);
  const first = await limit.acquire();
  const controller = new AbortController();
  const aborted = limit.acquire(controller.signal, () => new Error("gave up"));
  const next = limit.acquire();
  expect(limit.waiting).toBe(2);
  controller.abort();
  await expect(aborted).rejects.toThrow("gave up");
  first();
  first(); // a second release of the same slot does nothing
  const release = await next;
  expect(limit.active).toBe(1);
  release();
  expect(limit.active).toBe(0);
  await expect(limit.acquire(AbortSignal.abort())).rejects.toThrow("aborted");
});

describe("withTimeout", () => {
  test("passes the answer or the error through, and rejects once the time is up", async () => {
    expect(await withTimeout(Promise.resolve(7), 1000)).toBe(7);
    await expect(withTimeout(Promise.reject(new Error("broken")), 1000)).rejects.toThrow("broken");
    await expect(withTimeout(new Promise(() => {}), 20)).rejects.toThrow("no answer within 20 ms");
  });
});

// A counting semaphore: at most `n` tasks run at once, the rest wait in FIFO order. Used to bound memory-heavy work
// (argon2id hashing, ffmpeg). A dozen lines, so no dependency.
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

export function createLimiter(n: number): Limiter & { readonly active: number; readonly waiting: number } {
  let active = 0;
  const queue: (() => void)[] = [];
  const run = async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
  return Object.defineProperties(run, {
    active: { get: () => active },
    waiting: { get: () => queue.length },
  }) as Limiter & { readonly active: number; readonly waiting: number };
}

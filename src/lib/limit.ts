// A counting semaphore: at most `n` tasks run at once, the rest wait in FIFO order; a wait can be aborted. Used to
// bound memory-heavy work (argon2id hashing, ffmpeg processes). A few dozen lines, so no dependency.
export type Limiter = {
  /** Runs `task` once a slot is free. */
  <T>(task: () => Promise<T>): Promise<T>;
  /** Takes a slot (waiting in line); resolves to its release function. Rejects with `abortError()` if `signal` fires first. */
  acquire(signal?: AbortSignal, abortError?: () => Error): Promise<() => void>;
  readonly active: number;
  readonly waiting: number;
};

export function createLimiter(n: number): Limiter {
  let active = 0;
  const queue: { go: () => void }[] = [];
  // A slot passes straight to the next in line, so `active` never dips while others wait.
  const release = () => {
    const next = queue.shift();
    if (next) next.go();
    else active--;
  };
  const once = (fn: () => void) => {
    let done = false;
    return () => {
      if (!done) (done = true), fn();
    };
  };
  const acquire = (signal?: AbortSignal, abortError: () => Error = () => new Error("aborted")): Promise<() => void> => {
    if (signal?.aborted) return Promise.reject(abortError());
    if (active < n) {
      active++;
      return Promise.resolve(once(release));
    }
    return new Promise((resolve, reject) => {
      const entry = {
        go: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(once(release));
        },
      };
      const onAbort = () => {
        const i = queue.indexOf(entry);
        if (i >= 0) queue.splice(i, 1);
        reject(abortError());
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      queue.push(entry);
    });
  };
  const run = async <T>(task: () => Promise<T>): Promise<T> => {
    const done = await acquire();
    try {
      return await task();
    } finally {
      done();
    }
  };
  return Object.defineProperties(Object.assign(run, { acquire }), {
    active: { get: () => active },
    waiting: { get: () => queue.length },
  }) as Limiter;
}

/** `p`, or a rejection "no answer within <ms> ms" once `ms` have passed (the timer is cleared either way). */
export async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

// The timers the realtime hub and presence use (grace periods, sweeps), behind an interface so a test can hand in
// a manual scheduler and step through a grace period without sleeping (test/support/timers.ts).
export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // Housekeeping timers never keep the process alive on their own.
    (t as { unref?: () => void }).unref?.();
    return t as unknown as TimerHandle;
  },
  clearTimeout: (h) => clearTimeout(h as unknown as ReturnType<typeof setTimeout>),
};

/** Runs `fn` every `ms` on `timers` (re-armed after each run, so runs never overlap) until the returned stop(). */
export function every(timers: Timers, ms: number, fn: () => Promise<void> | void): () => void {
  let stopped = false;
  let handle: TimerHandle | undefined;
  const arm = () => {
    if (stopped) return;
    handle = timers.setTimeout(async () => {
      try {
        await fn();
      } finally {
        arm();
      }
    }, ms);
  };
  arm();
  return () => {
    stopped = true;
    if (handle) timers.clearTimeout(handle);
  };
}

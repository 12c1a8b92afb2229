// A manual scheduler for the realtime hub's timers (src/realtime/timers.ts), driven together with a settable clock:
// advance(ms) moves the clock forward and runs every timer that falls due, in order, at its own time.
import type { TimerHandle, Timers } from "../../src/realtime/timers.ts";

export type SettableClock = { now(): number; set(ms: number): void; advance(ms: number): void };

export function settableClock(start = Date.now()): SettableClock {
  let now = start;
  return { now: () => now, set: (ms) => void (now = ms), advance: (ms) => void (now += ms) };
}

export type ManualTimers = Timers & { advance(ms: number): void; pending(): number };

export function manualTimers(clock: SettableClock): ManualTimers {
  let seq = 0;
  const due = new Map<number, { at: number; fn: () => void }>();
  return {
    setTimeout(fn, ms) {
      const id = ++seq;
      due.set(id, { at: clock.now() + Math.max(0, ms), fn });
      return { id } as TimerHandle;
    },
    clearTimeout(h) {
      due.delete((h as { id: number }).id);
    },
    advance(ms) {
      const target = clock.now() + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const e of due) if (e[1].at <= target && (!next || e[1].at < next[1].at)) next = e;
        if (!next) break;
        due.delete(next[0]);
        clock.set(Math.max(clock.now(), next[1].at));
        next[1].fn();
      }
      clock.set(target);
    },
    pending: () => due.size,
  };
}

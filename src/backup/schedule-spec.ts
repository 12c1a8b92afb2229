// BACKUP_SCHEDULE's grammar (README "Backups"), parsed once by src/config.ts so a bad value stops the start with a
// message naming the variable. A leaf module: config.ts imports it, and it imports nothing.
//
//   off                    no scheduled backups (the default)
//   HH:MM[,HH:MM...]       every day at these times, UTC (e.g. "03:00" or "03:00,15:00")
//   <N>m | <N>h            every N minutes or hours, on the multiples of N since midnight UTC (e.g. "6h": 00:00,
//                          06:00, 12:00, 18:00); N at least 1 minute and at most 24 hours
//
// Slots are instants every instance computes alike from the clock alone, so instances sharing a database agree on
// which slot is due and take its backup once (src/backup/schedule.ts).

export type BackupSchedule = { kind: "off" } | { kind: "daily"; minutes: number[] } | { kind: "every"; ms: number };

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** The schedule, or a sentence saying what is wrong with `value`. */
export function parseBackupSchedule(value: string): BackupSchedule | string {
  const v = value.trim().toLowerCase();
  if (v === "" || v === "off") return { kind: "off" };
  const every = /^(\d{1,5})\s*(m|h)$/.exec(v);
  if (every) {
    const ms = Number(every[1]) * (every[2] === "h" ? 60 : 1) * MINUTE_MS;
    if (ms < MINUTE_MS || ms > DAY_MS) return `an interval must be from 1m to 24h, not "${value}"`;
    return { kind: "every", ms };
  }
  const times = v.split(",").map((t) => t.trim());
  const minutes: number[] = [];
  for (const t of times) {
    const m = /^(\d{1,2}):(\d{2})$/.exec(t);
    if (!m || Number(m[1]) > 23 || Number(m[2]) > 59)
      return `want "off", daily UTC times like "03:00" or "03:00,15:00", or an interval like "30m" or "6h"; "${t}" is none of these`;
    minutes.push(Number(m[1]) * 60 + Number(m[2]));
  }
  return { kind: "daily", minutes: [...new Set(minutes)].sort((a, b) => a - b) };
}

/** The first slot strictly after `after` (ms since epoch), or null when the schedule is off. */
export function nextBackupSlot(schedule: BackupSchedule, after: number): number | null {
  if (schedule.kind === "off") return null;
  if (schedule.kind === "every") {
    const day = Math.floor(after / DAY_MS) * DAY_MS;
    // Multiples of the interval since this day's midnight UTC; the next midnight starts the count again.
    const next = day + (Math.floor((after - day) / schedule.ms) + 1) * schedule.ms;
    return Math.min(next, day + DAY_MS);
  }
  const day = Math.floor(after / DAY_MS) * DAY_MS;
  for (const offset of [0, DAY_MS]) {
    for (const m of schedule.minutes) {
      const slot = day + offset + m * MINUTE_MS;
      if (slot > after) return slot;
    }
  }
  return null; // unreachable: a daily schedule has at least one time
}

// What a search asks for (docs/plugin-contract.md "Search"), checked and turned into safe values: the text as an
// FTS5 expression built only from quoted terms (nothing a user types is ever FTS5 syntax), the key with its
// enharmonic spellings and its relative major/minor, BPM and duration ranges, genre and DAW. Bad values are one
// 400 validation_error naming each field; text with nothing searchable in it is no error, it finds nothing.
import { errors } from "../http/errors.ts";
import { normalizeKey } from "../audio/keys.ts";

/** Longest text accepted, in characters; the number of terms used from it. */
export const MAX_QUERY_CHARS = 200;
export const MAX_TERMS = 8;
/** The longest prefix the loops' FTS5 index keeps (`prefix='2 3 4 5'` in drizzle/0022_search_index.sql). */
export const LOOP_PREFIX_MAX = 5;

/**
 * The FTS5 expression for what a person typed: each word (a run of anything but spaces) becomes one quoted string
 * (double quotes doubled inside), so `"`, `*`, `NEAR(`, `-`, `:`, `^`, AND/OR/NOT and unbalanced quotes are plain
 * text; FTS5's tokenizer then splits it into the same tokens as the indexed text. Words with no letter or digit
 * would be empty strings and are dropped. All terms must match; the last one (`prefix` "last", the default), every
 * one ("all") or none matches as a prefix, so results follow typing. A prefix is at least 2 characters and at most
 * `maxPrefix`: the loops' index keeps prefixes of 2 to 5 characters (LOOP_PREFIX_MAX), which FTS5 reads like one
 * word, in order, stopping when the page is full; a longer prefix would make it gather every posting of every
 * matching word first (milliseconds for a common word on 100,000 loops), so there a longer word must be whole.
 * Returns "" when nothing searchable is left. `columns` limits the match to those FTS columns (a fixed list from our
 * code, never from the request).
 */
export function ftsExpression(text: string, opts: { prefix?: "last" | "all" | "none"; columns?: readonly string[]; maxPrefix?: number } = {}): string {
  // Control characters (a NUL ends an FTS5 string early) are spaces.
  const words = text
    .normalize("NFC")
    .replace(/\p{Cc}/gu, " ")
    .split(/\s+/u)
    .filter((w) => /[\p{L}\p{N}]/u.test(w))
    .slice(0, MAX_TERMS);
  if (words.length === 0) return "";
  const prefix = opts.prefix ?? "last";
  const max = opts.maxPrefix ?? Number.POSITIVE_INFINITY;
  const fits = (w: string) => [...w].length >= 2 && [...w].length <= max;
  const star = (i: number) => (prefix === "all" || (prefix === "last" && i === words.length - 1)) && fits(words[i]!);
  const terms = words.map((w, i) => `"${w.replaceAll('"', '""')}"${star(i) ? "*" : ""}`);
  const expr = terms.join(" AND ");
  return opts.columns ? `{${opts.columns.join(" ")}} : (${expr})` : expr;
}

// ── Keys ──────────────────────────────────────────────────────────────────────────────────────────────────────

const LETTER_PC: Record<string, number> = { C: 0, D: 2, E: 4, F: 5, G: 7, A: 9, B: 11 };

/** Every short key name (as normalizeKey writes them) of one pitch class and quality: "F#m" and "Gbm" alike. */
function spellings(pc: number, minor: boolean): string[] {
  const out: string[] = [];
  for (const [letter, base] of Object.entries(LETTER_PC))
    for (const [acc, shift] of [
      ["", 0],
      ["#", 1],
      ["b", -1],
    ] as const)
      if ((base + shift + 12) % 12 === pc) out.push(`${letter}${acc}${minor ? "m" : ""}`);
  return out;
}

/**
 * The stored key names a key filter finds: the key in every spelling, and with `relative` its relative major or
 * minor (A minor ↔ C major: the same notes), also in every spelling. The key is read like an upload's
 * (normalizeKey: "Am", "A minor", "8A", "F♯ Major"); undefined when it names no key.
 */
export function keyFamily(raw: string, relative: boolean): string[] | undefined {
  const key = normalizeKey(raw);
  if (!key) return undefined;
  const minor = key.endsWith("m");
  const note = minor ? key.slice(0, -1) : key;
  const pc = (LETTER_PC[note[0]!]! + (note[1] === "#" ? 1 : note[1] === "b" ? -1 : 0) + 12) % 12;
  const names = spellings(pc, minor);
  if (relative) names.push(...spellings(minor ? (pc + 3) % 12 : (pc + 9) % 12, !minor));
  return names;
}

// ── The request ───────────────────────────────────────────────────────────────────────────────────────────────

export type LoopFilters = {
  bpmMin: number | null;
  bpmMax: number | null;
  /** JSON array of key names (keyFamily), or null for any key. */
  keys: string | null;
  genre: string | null;
  daw: string | null;
  durationMin: number | null;
  durationMax: number | null;
};

export type LoopSearchQuery = {
  q?: string;
  genre?: string;
  key?: string;
  relative?: string;
  daw?: string;
  bpm_min?: string;
  bpm_max?: string;
  duration_min?: string;
  duration_max?: string;
};

export type LoopSearch = { match: string; filters: LoopFilters; hasText: boolean };

const NUMBER = /^\s*\d{1,4}(\.\d{1,3})?\s*$/;

/** A number from 0 to `max` (a query string), null when absent or empty; a field error otherwise. */
function range(fields: Record<string, string>, name: string, raw: string | undefined, max: number): number | null {
  if (raw === undefined || raw.trim() === "") return null;
  if (!NUMBER.test(raw) || Number(raw) > max) {
    fields[name] = `Must be a number from 0 to ${max}`;
    return null;
  }
  return Number(raw);
}

function shortText(fields: Record<string, string>, name: string, raw: string | undefined, max: number): string | null {
  const v = raw?.trim() ?? "";
  if (!v) return null;
  if (v.length > max) {
    fields[name] = `At most ${max} characters`;
    return null;
  }
  return v;
}

/**
 * A loop search from its query string. Needs text or at least one filter (400 otherwise: an empty search would
 * be the global feed, which has its own route). The genre also narrows the FTS match (its column), so a genre
 * search is an index search even without text; the exact genre is checked on the row.
 */
export function parseLoopSearch(query: LoopSearchQuery): LoopSearch {
  const fields: Record<string, string> = {};
  const q = query.q ?? "";
  if (q.length > MAX_QUERY_CHARS) fields.q = `At most ${MAX_QUERY_CHARS} characters`;
  const bpmMin = range(fields, "bpm_min", query.bpm_min, 999);
  const bpmMax = range(fields, "bpm_max", query.bpm_max, 999);
  if (bpmMin !== null && bpmMax !== null && bpmMin > bpmMax) fields.bpm_max = "Must not be below bpm_min";
  const durationMin = range(fields, "duration_min", query.duration_min, 3600);
  const durationMax = range(fields, "duration_max", query.duration_max, 3600);
  if (durationMin !== null && durationMax !== null && durationMin > durationMax) fields.duration_max = "Must not be below duration_min";
  const relative = query.relative === undefined || query.relative === "" ? true : /^(1|true|on|yes)$/i.test(query.relative);
  if (query.relative !== undefined && query.relative !== "" && !/^(0|1|true|false|on|off|yes|no)$/i.test(query.relative))
    fields.relative = "Must be true or false";
  let keys: string | null = null;
  const rawKey = query.key?.trim() ?? "";
  if (rawKey) {
    const family = rawKey.length <= 20 ? keyFamily(rawKey, relative) : undefined;
    if (family) keys = JSON.stringify(family);
    else fields.key = "Not a key (e.g. Am, F# major, 8A)";
  }
  const genre = shortText(fields, "genre", query.genre, 50);
  const daw = shortText(fields, "daw", query.daw, 50);
  if (Object.keys(fields).length) throw errors.validation(fields);

  const text = ftsExpression(q, { maxPrefix: LOOP_PREFIX_MAX });
  const genreMatch = genre ? ftsExpression(genre, { columns: ["genres"], prefix: "none" }) : "";
  const filters: LoopFilters = { bpmMin, bpmMax, keys, genre, daw, durationMin, durationMax };
  const anyFilter = Object.values(filters).some((v) => v !== null);
  if (!q.trim() && !anyFilter) throw errors.validation({ q: "Type something to search for, or choose a filter" });
  const match = [text, genreMatch].filter(Boolean).join(" AND ");
  // Text typed but nothing searchable in it (only punctuation): finds nothing, rather than everything.
  const nothing = q.trim() !== "" && text === "";
  return { match: nothing ? "" : match, filters, hasText: q.trim() !== "" };
}

/** Text for the autocomplete and suggestion routes: required, at most MAX_QUERY_CHARS. */
export function parsePrefix(raw: string | undefined): string {
  const q = raw?.trim() ?? "";
  if (!q) throw errors.validation({ q: "Type the start of a name" });
  if (q.length > MAX_QUERY_CHARS) throw errors.validation({ q: `At most ${MAX_QUERY_CHARS} characters` });
  return q;
}

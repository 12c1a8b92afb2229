// The musical key of an upload, as the plugin names it, in the short form posts carry ("C", "F#", "Bb", "Am",
// "C#m"). The plugin's key detector reports "A minor" / "F# major" (its KeyDetector's standard names; its
// upload form defaults to "C major"), other clients send "Am", "a min", "F♯ Major" or the Camelot code DJs use ("8A").
// A key is metadata the DAW guessed: one we cannot read is stored as unknown (""), never a reason to refuse the
// loop (docs/plugin-contract.md, Uploads).

const NOTE = /^([A-G])\s*(#|♯|b|♭|sharp|flat)?\s*(m|min|minor|maj|major)?$/i;

/** Camelot wheel: number + A (minor) / B (major). */
const CAMELOT: Record<string, string> = {
  "1A": "G#m",
  "2A": "Ebm",
  "3A": "Bbm",
  "4A": "Fm",
  "5A": "Cm",
  "6A": "Gm",
  "7A": "Dm",
  "8A": "Am",
  "9A": "Em",
  "10A": "Bm",
  "11A": "F#m",
  "12A": "C#m",
  "1B": "B",
  "2B": "F#",
  "3B": "Db",
  "4B": "Ab",
  "5B": "Eb",
  "6B": "Bb",
  "7B": "F",
  "8B": "C",
  "9B": "G",
  "10B": "D",
  "11B": "A",
  "12B": "E",
};

/** The short key name, or "" when the text names no key we can read. */
export function normalizeKey(raw: string): string {
  const text = raw.trim().replace(/\s+/g, " ");
  if (!text) return "";
  const camelot = CAMELOT[text.toUpperCase().replace(/\s/g, "")];
  if (camelot) return camelot;
  const m = NOTE.exec(text);
  if (!m) return "";
  const [, letter, accidental = "", quality = ""] = m;
  const acc = /^(#|♯|sharp)$/i.test(accidental) ? "#" : accidental ? "b" : "";
  // "M" alone is major (chord-symbol style); "m", "min" and "minor" in any case are minor.
  const minor = quality === "m" || /^min(or)?$/i.test(quality);
  return `${letter!.toUpperCase()}${acc}${minor ? "m" : ""}`;
}

import { expect, test } from "bun:test";
import { normalizeKey } from "./keys.ts";

test('the plugin\'s key names (KeyDetector: "A minor", "F# major"; its form\'s default "C major") become the short form', () => {
  const cases: [string, string][] = [
    ["C major", "C"],
    ["A minor", "Am"],
    ["F# major", "F#"],
    ["C# minor", "C#m"],
    ["Bb Major", "Bb"],
    ["Eb minor", "Ebm"],
    ["Am", "Am"],
    ["F#", "F#"],
    ["Bbm", "Bbm"],
    ["C#m", "C#m"],
    ["a min", "Am"],
    ["F♯ Major", "F#"],
    ["E♭ minor", "Ebm"],
    ["d", "D"],
    ["bb", "Bb"],
    ["CM", "C"],
    ["Cmaj", "C"],
    ["G sharp minor", "G#m"],
    ["  D  minor ", "Dm"],
    ["8A", "Am"],
    ["8b", "C"],
    ["12A", "C#m"],
    ["1B", "B"],
  ];
  for (const [raw, short] of cases) expect([raw, normalizeKey(raw)]).toEqual([raw, short]);
});

test('text that names no key is unknown (""), never a reason to refuse the loop', () => {
  for (const raw of ["", "   ", "Unknown", "H minor", "13A", "C# dorian", "<script>", "C##", "x".repeat(200)])
    expect([raw, normalizeKey(raw)]).toEqual([raw, ""]);
});

// Readers for the deployment kit's files (deploy/), for the tests that check them: a Dockerfile's instructions,
// compose's ${VAR} interpolation, and a systemd unit's keys. Hand-written because each is a few lines of a format
// whose full grammar the tests do not need (and no package reads Dockerfiles or systemd units without a daemon).
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "../..");
export const DEPLOY = join(ROOT, "deploy");

export type Instruction = { op: string; args: string; line: number };

/** A Dockerfile's instructions: comments and blank lines dropped, `\` continuations joined, op upper-cased. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  let start = 0;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trimEnd();
    if (!pending && (line.trim() === "" || line.trimStart().startsWith("#"))) return;
    if (pending && line.trimStart().startsWith("#")) return; // comments inside a continued instruction
    if (!pending) start = i + 1;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = "";
    const m = /^([A-Za-z]+)\s+([\s\S]*)$/.exec(full);
    if (!m) throw new Error(`Dockerfile line ${start}: not an instruction: ${full}`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
  });
  if (pending) throw new Error("Dockerfile ends inside a continued line");
  return out;
}

/** `ENV A=1 B="two words"` (and the legacy `ENV A 1`) as a map. */
export function dockerEnv(instructions: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of instructions.filter((i) => i.op === "ENV")) {
    const pairs = [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)];
    if (pairs.length === 0) {
      const [k, ...v] = args.split(/\s+/);
      env[k!] = v.join(" ");
    }
    for (const [, k, v] of pairs) env[k!] = v!.startsWith('"') ? JSON.parse(v!) : v!;
  }
  return env;
}

/** Compose's interpolation of one value: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$. */
export function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, name, op, arg, bare) => {
    if (all === "$$") return "$";
    if (bare) return vars[bare] ?? "";
    const v = vars[name];
    const unset = op?.startsWith(":") ? !v : v === undefined;
    if (op?.endsWith("?") && unset) throw new Error(`required variable ${name} is missing a value: ${arg}`);
    if (op?.endsWith("-") && unset) return interpolate(arg, vars);
    return v ?? "";
  });
}

/** Interpolates every string of a parsed compose document (keys stay as written). */
export function interpolateAll<T>(doc: T, vars: Record<string, string | undefined>): T {
  if (typeof doc === "string") return interpolate(doc, vars) as T;
  if (Array.isArray(doc)) return doc.map((d) => interpolateAll(d, vars)) as T;
  if (doc && typeof doc === "object") return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, interpolateAll(v, vars)])) as T;
  return doc;
}

/** A systemd unit: section → key → every value given (a key may repeat; an empty assignment resets the list). */
export function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const unit: Record<string, Record<string, string[]>> = {};
  let section: Record<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = unit[s[1]!] ??= {};
      continue;
    }
    const eq = line.indexOf("=");
    if (!section || eq < 0) throw new Error(`not a unit line: ${line}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    section[key] = value === "" ? [""] : [...(section[key] ?? []).filter((v) => v !== ""), value];
  }
  return unit;
}

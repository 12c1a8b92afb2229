// The community's settings (README "Operating a community"): what its owner edits without restarting the server:
// name, description, rules, contact and who may sign up. Stored in the `settings` table, one row per setting; a
// setting that was never set takes its default from the environment (INSTANCE_NAME, INSTANCE_DESCRIPTION,
// REGISTRATION_OPEN), so a server configured before settings existed looks the same. Read on every page and sign-up
// through a read cache (deps.caches.settings, emptied by any write), written by owners (audited).
import { inArray } from "drizzle-orm";
import { t } from "elysia";
import type { RegistrationMode, Settings } from "../caches.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import { settings } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { normalizeText, textProblem } from "../lib/text.ts";

export type { RegistrationMode, Settings };
export const REGISTRATION_MODES: readonly RegistrationMode[] = ["open", "closed"];

/** Each setting's longest value, in characters; name and contact fit on one line, the others may span lines. */
const MAX = { name: 60, description: 300, rules: 5000, contact: 200 } as const;

export const SettingsSchema = t.Object(
  {
    name: t.String({ description: `the community's name (at most ${MAX.name} characters)` }),
    description: t.String({ description: "one or two sentences under the name" }),
    rules: t.String({ description: "the community's rules, shown at sign-up and on /about; may span lines" }),
    contact: t.String({ description: "how to reach the staff (an address or a link); empty hides it" }),
    registration: t.Union([t.Literal("open"), t.Literal("closed")], { description: "who may create an account: anyone, or nobody" }),
  },
  {
    examples: [
      {
        name: "Sidechain",
        description: "Loops from producers, straight from the DAW.",
        rules: "Post your own loops.\nBe kind in the comments.",
        contact: "staff@example.com",
        registration: "open",
      },
    ],
  },
);
export const SettingsPatch = t.Partial(SettingsSchema);
export type SettingsPatchT = typeof SettingsPatch.static;

export const settingsDefaults = (config: Pick<Config, "INSTANCE_NAME" | "INSTANCE_DESCRIPTION" | "REGISTRATION_OPEN">): Settings => ({
  name: config.INSTANCE_NAME,
  description: config.INSTANCE_DESCRIPTION,
  rules: "",
  contact: "",
  registration: config.REGISTRATION_OPEN ? "open" : "closed",
});

const KEYS = Object.keys(settingsDefaults({ INSTANCE_NAME: "", INSTANCE_DESCRIPTION: "", REGISTRATION_OPEN: true })) as (keyof Settings)[];

/** The community's settings now (stored values over the environment's defaults). */
export function instanceSettings(deps: Pick<Deps, "config" | "database" | "caches">): Promise<Settings> {
  return deps.caches.settings.get("settings", async () => {
    const rows = await deps.database.db.select().from(settings).where(inArray(settings.key, KEYS));
    const out = settingsDefaults(deps.config);
    for (const r of rows) {
      const k = r.key as keyof Settings;
      // A stored value of the wrong kind (written by hand) is ignored: the default stays.
      if (typeof r.value === "string" && (k !== "registration" || (REGISTRATION_MODES as readonly string[]).includes(r.value))) {
        (out as Record<string, string>)[k] = r.value;
      }
    }
    return Object.freeze(out);
  });
}

/**
 * The checked values of a change, or a 400 naming every bad field. Text is normalised like profile text (invisible
 * and direction-changing characters refused); the name cannot be empty.
 */
export function checkSettings(patch: Record<string, unknown>): Partial<Settings> {
  const fields: Record<string, string> = {};
  const out: Partial<Settings> = {};
  for (const [k, raw] of Object.entries(patch)) {
    if (raw === undefined) continue;
    if (!(KEYS as string[]).includes(k)) {
      fields[k] = "Not a setting";
      continue;
    }
    if (typeof raw !== "string") {
      fields[k] = "Must be text";
      continue;
    }
    if (k === "registration") {
      if ((REGISTRATION_MODES as readonly string[]).includes(raw)) out.registration = raw as RegistrationMode;
      else fields[k] = `One of ${REGISTRATION_MODES.join(", ")}`;
      continue;
    }
    const key = k as keyof typeof MAX;
    const multiline = key === "rules" || key === "description";
    const value = normalizeText(raw, multiline);
    const problem = textProblem(value, multiline);
    if (problem) fields[k] = problem;
    else if ([...value].length > MAX[key]) fields[k] = `At most ${MAX[key]} characters`;
    else if (key === "name" && !value) fields[k] = "The community needs a name";
    else out[key] = value;
  }
  if (Object.keys(fields).length) throw errors.validation(fields);
  return out;
}

/** Writes the changed settings in the caller's transaction (with their audit entry, see src/admin/settings.ts). */
export async function writeSettings(deps: Pick<Deps, "clock">, tx: Db, values: Partial<Settings>): Promise<void> {
  const now = deps.clock.now();
  for (const [key, value] of Object.entries(values)) {
    await tx
      .insert(settings)
      .values({ key, value, updatedAt: now })
      .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: now } });
  }
}

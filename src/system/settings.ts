// The community's settings (README "Operating a community"): what its owner edits without restarting the server:
// name, description, rules, contact, who may sign up and how, whether anything is public, and members' upload
// quotas. Stored in the `settings` table, one row per setting (JSON values); a setting that was never set takes its
// default: from the environment for name, description and sign-ups (INSTANCE_NAME, INSTANCE_DESCRIPTION,
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
export const REGISTRATION_MODES: readonly RegistrationMode[] = ["open", "invite", "approval", "closed"];

/** Each text setting's longest value, in characters; name and contact fit on one line, the others may span lines. */
const MAX = { name: 60, description: 300, rules: 5000, contact: 200 } as const;
/** The whole numbers' ranges; 0 means "no limit" for the two quotas. */
export const SETTING_RANGES = {
  upload_quota_per_day: [0, 10_000],
  upload_quota_mb: [0, 10_000_000],
  approval_queue_limit: [1, 10_000],
} as const;

const registrationSchema = t.Union([t.Literal("open"), t.Literal("invite"), t.Literal("approval"), t.Literal("closed")], {
  description: "who may create an account: anyone (open), people with an invite link (invite), anyone after staff approve (approval), nobody (closed)",
});
const count = (k: keyof typeof SETTING_RANGES, description: string) => t.Integer({ minimum: SETTING_RANGES[k][0], maximum: SETTING_RANGES[k][1], description });

export const SettingsSchema = t.Object(
  {
    name: t.String({ description: `the community's name (at most ${MAX.name} characters)` }),
    description: t.String({ description: "one or two sentences under the name" }),
    rules: t.String({ description: "the community's rules, shown at sign-up and on /about; may span lines" }),
    contact: t.String({ description: "how to reach the staff (an address or a link); empty hides it" }),
    registration: registrationSchema,
    members_invite: t.Boolean({ description: "whether members (not only staff) may make invite links" }),
    sign_in_to_view: t.Boolean({ description: "when true, feeds, loop and profile pages and media need a session" }),
    upload_quota_per_day: count("upload_quota_per_day", "loops a member may upload per UTC day, 0 for no limit (staff have none)"),
    upload_quota_mb: count("upload_quota_mb", "megabytes of originals a member may keep, 0 for no limit (staff have none)"),
    approval_queue_limit: count("approval_queue_limit", "in approval mode, how many sign-ups may wait; more are refused"),
  },
  {
    examples: [
      {
        name: "Sidechain",
        description: "Loops from producers, straight from the DAW.",
        rules: "Post your own loops.\nBe kind in the comments.",
        contact: "staff@example.com",
        registration: "open",
        members_invite: false,
        sign_in_to_view: false,
        upload_quota_per_day: 50,
        upload_quota_mb: 2048,
        approval_queue_limit: 100,
      },
    ],
  },
);
export const SettingsPatch = t.Partial(SettingsSchema);
export type SettingsPatchT = typeof SettingsPatch.static;

type DefaultsConfig = Pick<Config, "INSTANCE_NAME" | "INSTANCE_DESCRIPTION" | "REGISTRATION_OPEN">;
export const settingsDefaults = (config: DefaultsConfig): Settings => ({
  name: config.INSTANCE_NAME,
  description: config.INSTANCE_DESCRIPTION,
  rules: "",
  contact: "",
  registration: config.REGISTRATION_OPEN ? "open" : "closed",
  members_invite: false,
  sign_in_to_view: false,
  upload_quota_per_day: 50,
  upload_quota_mb: 2048,
  approval_queue_limit: 100,
});

const DEFAULTS_SHAPE = settingsDefaults({ INSTANCE_NAME: "", INSTANCE_DESCRIPTION: "", REGISTRATION_OPEN: true });
export const SETTING_KEYS = Object.keys(DEFAULTS_SHAPE) as (keyof Settings)[];
const isKey = (k: string): k is keyof Settings => (SETTING_KEYS as string[]).includes(k);

/** The community's settings now (stored values over the environment's defaults). */
export function instanceSettings(deps: Pick<Deps, "config" | "database" | "caches">): Promise<Settings> {
  return deps.caches.settings.get("settings", async () => {
    const rows = await deps.database.db.select().from(settings).where(inArray(settings.key, SETTING_KEYS));
    const out = settingsDefaults(deps.config);
    for (const r of rows) {
      // A stored value that is not a valid value of its setting (written by hand) is ignored: the default stays.
      if (!isKey(r.key)) continue;
      const checked = checkValue(r.key, r.value);
      if (!("problem" in checked)) (out as Record<string, unknown>)[r.key] = checked.value;
    }
    return Object.freeze(out);
  });
}

type Checked = { value: Settings[keyof Settings] } | { problem: string };

/** One setting's value checked: text normalised like profile text (invisible and direction-changing characters refused). */
function checkValue(key: keyof Settings, raw: unknown): Checked {
  const kind = typeof DEFAULTS_SHAPE[key];
  if (key === "registration") {
    return typeof raw === "string" && (REGISTRATION_MODES as readonly string[]).includes(raw)
      ? { value: raw as RegistrationMode }
      : { problem: `One of ${REGISTRATION_MODES.join(", ")}` };
  }
  if (kind === "boolean") return typeof raw === "boolean" ? { value: raw } : { problem: "Must be true or false" };
  if (kind === "number") {
    const [lo, hi] = SETTING_RANGES[key as keyof typeof SETTING_RANGES];
    return Number.isInteger(raw) && (raw as number) >= lo && (raw as number) <= hi
      ? { value: raw as number }
      : { problem: `A whole number from ${lo} to ${hi}` };
  }
  if (typeof raw !== "string") return { problem: "Must be text" };
  const k = key as keyof typeof MAX;
  const multiline = k === "rules" || k === "description";
  const value = normalizeText(raw, multiline);
  const problem = textProblem(value, multiline);
  if (problem) return { problem };
  if ([...value].length > MAX[k]) return { problem: `At most ${MAX[k]} characters` };
  if (k === "name" && !value) return { problem: "The community needs a name" };
  return { value };
}

/** The checked values of a change, or a 400 naming every bad field. */
export function checkSettings(patch: Record<string, unknown>): Partial<Settings> {
  const fields: Record<string, string> = {};
  const out: Record<string, unknown> = {};
  for (const [k, raw] of Object.entries(patch)) {
    if (raw === undefined) continue;
    if (!isKey(k)) {
      fields[k] = "Not a setting";
      continue;
    }
    const checked = checkValue(k, raw);
    if ("problem" in checked) fields[k] = checked.problem;
    else out[k] = checked.value;
  }
  if (Object.keys(fields).length) throw errors.validation(fields);
  return out as Partial<Settings>;
}

/**
 * A change written as text (the command line's KEY=VALUE, an admin form's fields) as the values checkSettings takes:
 * yes/no words for the switches, digits for the numbers; anything else is left as text for checkSettings to refuse.
 */
export function settingsFromText(pairs: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(pairs)) {
    const kind = isKey(k) ? typeof DEFAULTS_SHAPE[k] : "string";
    const word = v.trim().toLowerCase();
    if (kind === "boolean" && ["true", "yes", "on", "1"].includes(word)) out[k] = true;
    else if (kind === "boolean" && ["false", "no", "off", "0", ""].includes(word)) out[k] = false;
    else if (kind === "number" && /^\d{1,9}$/.test(word)) out[k] = Number(word);
    else out[k] = v;
  }
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

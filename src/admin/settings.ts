// Changing the community's settings (src/system/settings.ts): owners only (and the command line), every change
// audited with what it was and what it became.
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { checkSettings, instanceSettings, type Settings, writeSettings } from "../system/settings.ts";
import { roleOf } from "../users/service.ts";
import { type Actor, audit } from "./audit.ts";
import { staffOf } from "./users.ts";

/** Applies the checked part of `patch` that differs from now; returns the settings after it. */
export async function updateSettings(deps: Deps, actor: Actor, patch: Record<string, unknown>): Promise<Settings> {
  const staff = await staffOf(deps, actor);
  if (staff && roleOf(staff) !== "owner") throw errors.forbidden("owner_only", "Only an owner may change the community's settings");
  const wanted = checkSettings(patch);
  const before = await instanceSettings(deps);
  const changed = Object.fromEntries(Object.entries(wanted).filter(([k, v]) => before[k as keyof Settings] !== v)) as Partial<Settings>;
  if (!Object.keys(changed).length) return before;
  await deps.database.tx(async (tx) => {
    await writeSettings(deps, tx, changed);
    await audit(deps, tx, actor, {
      action: "settings.update",
      targetType: "settings",
      targetId: "instance",
      details: Object.fromEntries(Object.entries(changed).map(([k, v]) => [k, { from: before[k as keyof Settings], to: v }])),
    });
  });
  return instanceSettings(deps);
}

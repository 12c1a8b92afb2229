// The owner's 📌 button on their loop's page (README "Pinned loops"): POST /l/:id/pin, field `pin` = 1 pins, 0
// unpins, absent toggles → { is_pinned, pin_order } (web/loop-toggles.ts); a refusal (not yours, 3 pinned already)
// shows on the loop page. The service of the API's routes (posts/pins.ts), under the same `pins` rate limit.
import { t } from "elysia";
import type { Deps } from "../deps.ts";
import { pinPost, togglePin, unpinPost } from "../posts/pins.ts";
import { loopToggle } from "./loop-toggles.ts";

export const pinActions = (deps: Deps) =>
  loopToggle(deps, {
    name: "pin",
    limit: "pins",
    on: pinPost,
    off: unpinPost,
    toggle: togglePin,
    summary: "Pin or unpin your loop from the web app: field pin=1 or 0 (absent: toggle)",
    state: t.Object({ is_pinned: t.Boolean(), pin_order: t.Integer() }, { examples: [{ is_pinned: true, pin_order: 1 }] }),
  });

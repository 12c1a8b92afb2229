// The web app's one script (docs/architecture.md "Web app"), an ES module bundled into the binary by
// src/web/assets.macro.ts. Pages work without it; each module enhances what is on the page.
import "./forms.ts";
import { startNav } from "./nav.ts";
import { startPlayer } from "./player.ts";
import "./scroll.ts";
import "./upload.ts";
import "./live.ts";
import "./stories.ts";

document.documentElement.dataset.js = "1";
startNav();
startPlayer();

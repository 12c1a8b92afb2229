// The web app's one script (docs/architecture.md "Web app"), an ES module bundled into the binary by
// src/web/assets.macro.ts. Pages work without it; each module enhances what is on the page.
import "./forms.ts";

document.documentElement.dataset.js = "1";
import "./upload.ts";
import "./live.ts";

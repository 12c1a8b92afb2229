/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "No import cycle in src/, type-only imports included (docs/architecture.md, Layers).",
      from: {},
      to: { circular: true },
    },
    {
      name: "infrastructure-imports-no-feature",
      severity: "error",
      comment: "Infrastructure never imports a feature (docs/architecture.md, Layers).",
      from: {
        path: "^src/(db|jobs|storage|integrations|http|lib)/|^src/realtime/(bus|presence-store)[.]ts$",
        // The Stream.io mirror (with its backfill and command) is the one feature-side integration: it reads users,
        // posts, follows and reactions and builds a post's fields with the posts feature's helpers
        // (docs/architecture.md, Layers).
        pathNot: "^src/integrations/stream(-backfill|-command)?[.]ts$",
      },
      to: {
        path: "^src/(system|auth|users|posts|audio|social|realtime|web|media|relay|admin|backup)/",
        pathNot: "^src/realtime/(bus|presence-store)[.]ts$",
      },
    },
    {
      name: "routes-only-from-the-app",
      severity: "error",
      comment: "A feature may call another feature's service, never its routes: only app.ts composes them.",
      from: { pathNot: "^src/app[.]ts$" },
      to: { path: "routes[.]tsx?$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    includeOnly: "^src/",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default", "types"] },
  },
};

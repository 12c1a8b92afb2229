// API documentation: OpenAPI 3.1 generated from the route schemas at /docs/json, and Swagger UI at /docs. The
// UI's script and stylesheet come from the swagger-ui-dist package and are embedded in the binary (Bun "file"
// imports), so the page renders without internet access.
import { Elysia } from "elysia";
import { openapi } from "@elysiajs/openapi";
// @ts-expect-error: Bun file import, resolved to an embedded path at build time
import uiScript from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
// @ts-expect-error: Bun file import
import uiStyle from "swagger-ui-dist/swagger-ui.css" with { type: "file" };

const ASSETS: Record<string, { path: string; type: string }> = {
  "swagger-ui-bundle.js": { path: uiScript as unknown as string, type: "text/javascript; charset=utf-8" },
  "swagger-ui.css": { path: uiStyle as unknown as string, type: "text/css; charset=utf-8" },
};

export const docs = (version: string) =>
  new Elysia({ name: "docs" })
    .use(
      openapi({
        path: "/docs",
        provider: "swagger-ui",
        swagger: { cdn: "/docs/assets/swagger-ui-bundle.js", theme: "/docs/assets/swagger-ui.css", autoDarkMode: true },
        // Dotted paths are documented too (the web app's RSS feeds); the static files hide themselves.
        exclude: { paths: [/^\/docs/], staticFile: false },
        documentation: {
          info: {
            title: "Sidechain API",
            version,
            description:
              "The API of a self-hosted Sidechain server. Errors are always `{error, message, fields?}` with a non-2xx status; " +
              "success bodies never contain an `error` key.",
          },
          tags: [
            { name: "system", description: "Health and readiness" },
            { name: "auth", description: "Accounts, sessions and sign-in" },
            { name: "users", description: "Users and profiles" },
            { name: "posts", description: "Loops as posts" },
            { name: "loops", description: "Uploading loops: audio checks, normalization to -14 LUFS, MP3, waveform" },
            { name: "web", description: "The web app's machine endpoints: oEmbed, RSS feeds" },
          ],
          components: {
            securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
          },
        },
      }),
    )
    .get(
      "/docs/assets/:name",
      ({ params, set }) => {
        const asset = ASSETS[params.name];
        if (!asset)
          return new Response(JSON.stringify({ error: "not_found", message: "No such asset" }), {
            status: 404,
            headers: { "content-type": "application/json" },
          });
        set.headers["content-type"] = asset.type;
        set.headers["cache-control"] = "public, max-age=86400";
        return Bun.file(asset.path);
      },
      { detail: { hide: true } },
    );

// The API documentation: a valid OpenAPI 3.1 document, and a docs page that loads nothing from the internet.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { createTestEnv, type TestEnv } from "../support/deps.ts";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

test("GET /docs/json is a valid OpenAPI 3.1 document", async () => {
  const res = await env.request("/docs/json");
  expect(res.status).toBe(200);
  const doc = await res.json();
  expect(doc.openapi).toMatch(/^3\.1\./);
  const result = await new Validator().validate(doc);
  if (!result.valid) console.error(JSON.stringify(result.errors, null, 2));
  expect(result.valid).toBe(true);
});

test("every documented operation has a summary and a JSON schema with an example for its 200 answer", async () => {
  const doc = await (await env.request("/docs/json")).json();
  const ops = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ path, method, op })),
  );
  expect(ops.length).toBeGreaterThan(0);
  for (const { path, method, op } of ops) {
    const where = `${method.toUpperCase()} ${path}`;
    if (op.requestBody) {
      // a body must say its media type and schema (a custom parser used to leave `content` empty)
      expect({ where, bodyTypes: Object.keys(op.requestBody.content ?? {}).length > 0 }).toEqual({ where, bodyTypes: true });
    }
    expect({ where, summary: typeof op.summary }).toEqual({ where, summary: "string" });
    // A browser entry point whose only success is a redirect (e.g. GET /auth/google → the provider) documents its 302;
    // the WebSocket documents its 101.
    const ok =
      op.responses?.["200"] ?? op.responses?.["201"] ?? op.responses?.["202"] ?? op.responses?.["204"] ?? op.responses?.["302"] ?? op.responses?.["101"];
    expect({ where, documented: Boolean(ok) }).toEqual({ where, documented: true });
    const media = ok.content?.["application/json"] ?? Object.values(ok.content ?? {})[0];
    if (media) {
      const schema = media.schema?.$ref ? resolveRef(doc, media.schema.$ref) : media.schema;
      const hasExample = Boolean(media.example ?? media.examples ?? schema?.example ?? schema?.examples);
      expect({ where, hasExample }).toEqual({ where, hasExample: true });
    }
  }
});

function resolveRef(doc: any, ref: string) {
  return ref
    .replace(/^#\//, "")
    .split("/")
    .reduce((o: any, k) => o?.[k], doc);
}

test("the WebSocket endpoint is documented with its protocol", async () => {
  const doc = await (await env.request("/docs/json")).json();
  const ws = doc.paths["/api/v1/ws"]?.get;
  expect(ws?.responses?.["101"]).toBeDefined();
  expect(ws?.description).toContain("new_post");
});

test("the docs page and its assets are served by the server itself (works offline)", async () => {
  const html = await (await env.request("/docs")).text();
  expect(html).toContain('"url":"docs/json"'); // relative to /docs
  const external = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((u) => /^(https?:)?\/\//.test(u!));
  expect(external).toEqual([]);
  for (const asset of ["/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"]) {
    expect(html).toContain(asset);
    const res = await env.request(asset);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
  }
  expect((await env.request("/docs/assets/nope.js")).status).toBe(404);
});

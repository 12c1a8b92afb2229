// A read of the API as the plugin sends it (GET with Content-Type: application/json, the token if any), held to the
// contract: 200, no `error` key, every post and user of the exact JSON types, `meta.count` the length of the list.
import { expect } from "bun:test";
import type { TestEnv } from "./deps.ts";
import { json } from "./auth.ts";
import { postTypeProblems } from "./post-shape.ts";
import { userTypeProblems } from "./user-shape.ts";

export type Body = Record<string, any>;

export async function readOk(env: TestEnv, path: string, token?: string): Promise<Body> {
  const res = await env.request(`/api/v1${path}`, { token, headers: { "content-type": "application/json" } });
  const body = await json(res);
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  expect(body).not.toHaveProperty("error");
  for (const p of body.posts ?? []) expect({ path, problems: postTypeProblems(p) }).toEqual({ path, problems: [] });
  for (const u of body.users ?? []) expect({ path, problems: userTypeProblems(u) }).toEqual({ path, problems: [] });
  if (body.meta) expect(body.meta.count).toBe((body.posts ?? body.users).length);
  return body;
}

// GET /api/v1/instance: the community's public settings (name, description, rules, contact, whether it takes new
// accounts), for clients that show them before sign-up (README "Operating a community").
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { instanceSettings, SettingsSchema } from "./settings.ts";

export const instanceRoutes = (deps: Deps) =>
  new Elysia({ name: "instance", detail: { tags: ["system"] } }).get("/instance", () => instanceSettings(deps), {
    response: { 200: SettingsSchema },
    detail: { summary: "The community's public settings: name, description, rules, contact, sign-up mode, quotas" },
  });

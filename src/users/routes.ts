// /api/v1/users: the signed-in user's own record. (Profiles, follows and lists come with the social feature.)
import { Elysia } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema } from "../http/errors.ts";
import { SelfUser } from "./models.ts";
import { toSelfUser } from "./service.ts";

export const userRoutes = (deps: Deps) =>
  new Elysia({ name: "user-routes", prefix: "/users", detail: { tags: ["users"] } })
    .use(authGuard(deps))
    .get("/me", ({ auth }) => toSelfUser(deps, auth.user), {
      auth: true,
      response: { 200: SelfUser, 401: ErrorSchema },
      detail: { summary: "The signed-in user (plugin)" },
    });

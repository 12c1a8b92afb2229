// /api/v1/users: the signed-in user's own record and profile edits, public profiles, and the profile picture.
// The plugin cannot send PUT: each PUT here has a POST alias that calls the same service.
import { Elysia, t } from "elysia";
import { deleteOwnAccount } from "../admin/users.ts";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { bodies, MULTIPART_ENVELOPE_BYTES, type Declared } from "../http/body.ts";
import { DiskFile, readUploadForm } from "../http/multipart.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { AVATAR_MAX_BYTES, setAvatar } from "./avatar.ts";
import { AvatarForm, AvatarResponse, ProfileBody, PublicUser, SelfUser, UsernameBody } from "./models.ts";
import { changeUsername, getPublicProfile, updateProfile } from "./profile.ts";
import { toSelfUser } from "./service.ts";

/** The picture's body: multipart, the picture plus room for the envelope, read after auth and the rate limit. */
const avatarBody: Declared = { kinds: ["multipart"], maxBytes: AVATAR_MAX_BYTES + MULTIPART_ENVELOPE_BYTES, readInHandler: true };

const IdParams = t.Object({ id: t.String({ maxLength: 64, description: "user id, or username for /profile" }) });
const editErrors = { 400: ErrorSchema, 401: ErrorSchema };

export const userRoutes = (deps: Deps) => {
  const profileEdit = {
    auth: true,
    parse: "json",
    // Before validation: the schema's record check would take an array for social_links (as keys "0", "1"...).
    transform({ body }: { body: unknown }) {
      if (Array.isArray((body as { social_links?: unknown } | null)?.social_links))
        throw errors.validation({ social_links: "An object of link names to strings, not an array" });
    },
    body: ProfileBody,
    response: { 200: SelfUser, ...editErrors },
  } as const;
  const usernameEdit = {
    auth: true,
    parse: "json",
    body: UsernameBody,
    response: { 200: SelfUser, ...editErrors, 409: ErrorSchema },
  } as const;

  return (
    new Elysia({ name: "user-routes", prefix: "/users", detail: { tags: ["users"] } })
      .use(authGuard(deps))
      .use(bodies(deps.config.BODY_MAX_BYTES))
      .get("/me", ({ auth }) => toSelfUser(deps, auth.user), {
        auth: true,
        response: { 200: SelfUser, 401: ErrorSchema },
        detail: { summary: "The signed-in user (plugin)" },
      })
      .put("/me", async ({ auth, body }) => toSelfUser(deps, await updateProfile(deps, auth.user, body)), {
        ...profileEdit,
        detail: { summary: "Edit your profile; absent fields stay as they are, errors name each field" },
      })
      .post("/me", async ({ auth, body }) => toSelfUser(deps, await updateProfile(deps, auth.user, body)), {
        ...profileEdit,
        detail: { summary: "Edit your profile (plugin alias of PUT)" },
      })
      .put("/username", async ({ auth, body }) => toSelfUser(deps, await changeUsername(deps, auth.user, body.username)), {
        ...usernameEdit,
        detail: { summary: "Change your username (409 username_taken, whatever the case)" },
      })
      .post("/username", async ({ auth, body }) => toSelfUser(deps, await changeUsername(deps, auth.user, body.username)), {
        ...usernameEdit,
        detail: { summary: "Change your username (plugin alias of PUT)" },
      })
      .post(
        "/upload-profile-picture",
        async ({ auth, request }) => {
          const { url, user } = await deps.ffmpeg.withTempDir(async (dir) => {
            const body = await readUploadForm(request, avatarBody, dir);
            const file = body.file ?? body.image ?? body.avatar;
            if (!(file instanceof DiskFile)) throw errors.validation({ file: "Attach the picture as the multipart file field file" });
            return setAvatar(deps, auth.user.id, file.blob());
          });
          return { url, user: await toSelfUser(deps, user) };
        },
        {
          auth: true,
          rateLimit: "avatars",
          accepts: avatarBody,
          body: AvatarForm, // documents the form; the handler reads it (readUploadForm) after auth and the rate limit
          response: { 200: AvatarResponse, ...editErrors, 413: ErrorSchema, 415: ErrorSchema, 422: ErrorSchema, 429: ErrorSchema },
          detail: {
            summary: "Upload your profile picture (plugin): multipart field file; JPEG, PNG, WebP or GIF by content, at most 5 MiB",
            description: "Applied at once (avatar_url of every user object, user_avatar_url of your posts); the previous picture is deleted.",
          },
        },
      )
      .post("/me/delete", async ({ auth, body }) => ({ deleted: true as const, ...(await deleteOwnAccount(deps, auth, body.password)) }), {
        auth: true,
        rateLimit: "login",
        parse: "json",
        body: t.Object({ password: t.Optional(t.String({ maxLength: 1024, description: "required when the account has a password" })) }),
        response: {
          200: t.Object(
            { deleted: t.Literal(true), posts: t.Integer(), follows: t.Integer(), reactions: t.Integer(), plays: t.Integer() },
            { examples: [{ deleted: true, posts: 12, follows: 58, reactions: 230, plays: 911 }] },
          ),
          400: ErrorSchema,
          401: ErrorSchema,
          403: ErrorSchema,
          409: ErrorSchema,
          429: ErrorSchema,
        },
        detail: {
          summary: "Delete your account with your loops (and their media), follows, reactions and plays; confirmed by your password",
          description:
            "An account without a password confirms with a Google/Discord sign-in in the last 10 minutes " +
            "(403 reauthentication_required otherwise). The last owner of a server cannot (409 last_owner).",
        },
      })
      // Public reads. A signed-in viewer also gets is_following / follows_you; never email or other private fields.
      .get("/:id/profile", ({ params, viewer }) => getPublicProfile(deps, params.id, viewer?.user ?? null), {
        viewer: true,
        params: IdParams,
        response: { 200: PublicUser, 401: ErrorSchema, 404: ErrorSchema },
        detail: { summary: "A user's public profile by id or username (plugin)" },
      })
      .get("/:id", ({ params, viewer }) => getPublicProfile(deps, params.id, viewer?.user ?? null), {
        viewer: true,
        params: IdParams,
        response: { 200: PublicUser, 401: ErrorSchema, 404: ErrorSchema },
        detail: { summary: "A user's public profile" },
      })
  );
};

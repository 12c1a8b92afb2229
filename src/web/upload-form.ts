// A browser's multipart upload, shared by the loop form (upload-routes.tsx) and the story form (story-routes.tsx),
// in front of the API's own upload path (src/audio/upload.ts receiveUpload): the CSRF token comes in the x-csrf-token
// header (the script) or the form's csrf field, which the form puts before the file so it is checked before any of
// the file is written (docs/security.md "Web app").
import { receiveUpload, uploadBody } from "../audio/upload.ts";
import { readBrowserSession, signInPath } from "../auth/browser-session.ts";
import type { Auth } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { errors } from "../http/errors.ts";
import { csrfValid, refuseOtherBodies, seeOther, wantsJson } from "./context.ts";

const csrfFailed = () => errors.forbidden("csrf_failed", "This form has expired or did not come from this site; reload the page");

/**
 * A browser's multipart upload: refuses a body that is not
 * multipart (415), checks the CSRF token (the script's header first, else the form's field, which comes before the
 * file), sends a signed-out browser to the sign-in page (a Response; the script gets 401), spends the "uploads"
 * rate limit, then reads the form (receiveUpload) and runs `act` on it, as the API's upload routes do.
 */
export async function receiveWebUpload<T>(
  deps: Deps,
  request: Request,
  back: string,
  act: (auth: Auth, fields: Record<string, unknown>) => Promise<T>,
): Promise<T | Response> {
  // A body that is not multipart is no upload form, whoever sends it: 415 before anything else, as the API's.
  const refused = refuseOtherBodies(request, uploadBody(deps.config));
  if (refused) return refused;
  const header = request.headers.get("x-csrf-token");
  if (header !== null && !csrfValid(request, {})) throw csrfFailed();
  const auth = await readBrowserSession(deps, request);
  if (!auth) {
    if (!wantsJson(request)) return seeOther(signInPath(back));
    throw errors.unauthorized("unauthorized", "Sign in first");
  }
  // As the API: only a signed-in producer within the rate limit gets the body read.
  await deps.routeLimits.hit("uploads", { ip: clientIp(request, parseTrustedProxies(deps.config.TRUSTED_PROXIES)), userId: auth.user.id });
  let checked = header !== null;
  const checkCsrf = (fields: Record<string, unknown>) => {
    if (checked) return;
    if (!csrfValid(request, fields)) throw csrfFailed();
    checked = true;
  };
  return receiveUpload(
    deps,
    request,
    async (fields) => {
      checkCsrf(fields);
      return act(auth, fields);
    },
    checkCsrf,
  );
}

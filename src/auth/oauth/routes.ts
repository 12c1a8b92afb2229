// /api/v1/auth: Google and Discord sign-in, the plugin's polled sign-in, linking and unlinking providers.
// The route table is the security table: each route shows its guard and its named rate limit beside it.
//
// Three flows start at GET /auth/{provider}, chosen by the query:
// - `session_id` (plugin): the provider's callback shows "Sign in to the Sidechain plugin as <username>?"; its
//   form POST (CSRF-protected) approves the plugin's session; the plugin's next poll gets the tokens, once.
// - `redirect_to` (web, default "/"): the callback redirects to that relative path and sets an HttpOnly,
//   SameSite=Strict cookie holding a one-time result code that lives 2 minutes; the page there calls
//   POST /auth/oauth/exchange (same origin, cookie sent automatically) to get {auth}. No token ever travels in a URL.
// - `link=1&ticket=…` (link to the signed-in account): a browser navigation cannot carry the bearer token, so the
//   signed-in client first calls POST /auth/{provider}/link-start with its bearer token and opens the returned
//   URL. The ticket in it is sealed (encrypted), names the user and the session, lives 2 minutes and is spent on
//   first use; the flow cookie then binds the OAuth state to that session (L6), which is re-checked at the end.
//   The URL only works in a browser signed in (sc_session) to that same account, at the start and again at the
//   callback: a link URL opened by someone else would link THEIR provider account to the starter's account
//   (docs/security.md, Linking). A browser that is not signed in is sent to /signin first, the ticket unspent.
// In every flow, state (256 bits) and the PKCE verifier travel in an encrypted HttpOnly SameSite=Lax cookie that
// lives 10 minutes, scoped to /api/v1/auth/{provider}.
import { Elysia } from "elysia";
import type { Deps } from "../../deps.ts";
import { clientIp, parseTrustedProxies } from "../../http/client-ip.ts";
import { readCookie, setCookie, withCookies, type CookieOptions } from "../../http/cookies.ts";
import { bodies } from "../../http/body.ts";
import { ErrorSchema, errors } from "../../http/errors.ts";
import { safeRedirectPath } from "../../http/redirect.ts";
import { safeEqual } from "../../lib/crypto.ts";
import { getUserById } from "../../users/service.ts";
import { csrfFor, csrfOk } from "../../web/layout.ts";
import { readBrowserSession, signInPath, startBrowserSession } from "../browser-session.ts";
import { authGuard, type Auth } from "../guard.ts";
import { linkProvider, linkRefusal, listIdentities, signInWithProvider, unlinkProvider } from "../identity.ts";
import * as M from "./models.ts";
import { oauthPages } from "./pages.ts";
import {
  approvePluginSignIn,
  createWebResult,
  failPluginSignIn,
  PLUGIN_SESSION_ID,
  PLUGIN_SIGN_IN_TTL_MS,
  pluginSignInState,
  pollPluginSignIn,
  redeemWebResult,
  spendLinkTicket,
  startPluginSignIn,
} from "./results.ts";
import { authorizationUrl, fetchProfile, getProvider, isProviderName, newFlowSecrets, PROVIDER_LABEL, type Provider, type ProviderName } from "./providers.ts";
import { Ok } from "../models.ts";
import { linkStartUrl } from "./link-start.ts";
import { looksLikeInviteCode } from "../invites.ts";
import { seal, unseal } from "./sealed.ts";
import { validateSession, type ClientInfo } from "../sessions.ts";

/** The OAuth flow cookie lives this long: the person has 10 minutes at the provider. */
export const FLOW_TTL_MS = 10 * 60_000;
const RESULT_COOKIE = "sc_oauth_result";

/** Which flow a start asked for: plugin session id, web return path, or the user and session to link to. */
type FlowIntent = { m: "plugin"; sid: string } | { m: "web"; r: string; i?: string } | { m: "link"; u: string; ss: string };
/** What the encrypted flow cookie carries between the start and the callback. */
type Flow = FlowIntent & {
  p: ProviderName;
  /** state, compared with the callback's `state` */
  s: string;
  /** PKCE code verifier */
  v: string;
};

type LinkTicket = { p: ProviderName; u: string; ss: string; j: string };

export const oauthRoutes = (deps: Deps) => {
  const { linkedPage, oauthErrorPage, pluginCancelledPage, pluginConfirmPage, pluginDonePage } = oauthPages(deps.caches.instance);
  const { config, clock } = deps;
  const trusted = parseTrustedProxies(config.TRUSTED_PROXIES);
  const ip = (request: Request) => clientIp(request, trusted);
  const client = (request: Request): ClientInfo => ({ ip: ip(request), userAgent: request.headers.get("user-agent") ?? "" });
  const cookie = (name: string, value: string, opts: CookieOptions) => setCookie(config.PUBLIC_URL, name, value, opts);
  const flowCookie = (name: ProviderName) => `sc_oauth_${name}`;
  const flowCookieOptions = (name: ProviderName, maxAgeS: number): CookieOptions => ({ path: `/api/v1/auth/${name}`, maxAgeS, sameSite: "lax" });
  const clearFlowCookie = (name: ProviderName) => cookie(flowCookie(name), "", flowCookieOptions(name, 0));
  // SameSite=Strict and scoped to the exchange path: only this server's own page can redeem it.
  const resultCookieOptions = (maxAgeS: number): CookieOptions => ({ path: "/api/v1/auth/oauth/exchange", maxAgeS, sameSite: "strict" });
  const confirmAction = `${config.PUBLIC_URL}/api/v1/auth/oauth/confirm`;

  const requireProvider = (name: ProviderName): Provider => {
    const provider = getProvider(config, name);
    if (!provider) throw errors.notFound("provider_disabled", `${PROVIDER_LABEL[name]} sign-in is not configured on this server`);
    return provider;
  };

  /**
   * The plugin opened the browser on a provider this server does not offer and polls /oauth/poll for 5 minutes:
   * its poll session is registered as failed now, so the next poll answers {status:"error"} and the plugin stops.
   * A malformed or already used id changes nothing.
   */
  const failUnconfiguredPoll = async (name: ProviderName, sessionId: string | undefined) => {
    const sid = sessionId?.toLowerCase();
    if (!sid || !PLUGIN_SESSION_ID.test(sid) || !(await startPluginSignIn(deps, sid))) return;
    await failPluginSignIn(deps, sid, "error", `${PROVIDER_LABEL[name]} sign-in is not configured on this server`);
  };

  /** The session a link flow is bound to, if it is still live and still belongs to the user (L6). */
  const loadLinkAuth = async (userId: string, sessionId: string): Promise<Auth | null> => {
    const session = await validateSession(deps, sessionId, userId);
    const user = session && (await getUserById(deps, userId));
    return session && user ? { user, session } : null;
  };

  /** Turns the start query into a flow, or a page to show instead (link flow: sign in first), or throws the contract error. */
  const parseStart = async (name: ProviderName, q: typeof M.StartQuery.static, request: Request): Promise<FlowIntent | Response> => {
    const given = [q.session_id, q.redirect_to, q.link].filter((v) => v !== undefined).length;
    if (given > 1) throw errors.validation({ query: "Give only one of session_id, redirect_to and link" });
    if (q.invite !== undefined && (q.session_id !== undefined || q.link !== undefined))
      throw errors.validation({ invite: "Only with the web flow (redirect_to)" });
    if (q.session_id !== undefined) {
      const sid = q.session_id.toLowerCase();
      if (!PLUGIN_SESSION_ID.test(sid)) throw errors.validation({ session_id: "32 hexadecimal characters" });
      // Single use: the id is registered now, and a second start with it is refused.
      if (!(await startPluginSignIn(deps, sid))) throw errors.conflict("session_id_used", "This sign-in link was already used; start again from the plugin");
      return { m: "plugin", sid };
    }
    if (q.link !== undefined) {
      if (q.link !== "1") throw errors.validation({ link: "Use link=1" });
      const ticket = await unseal<LinkTicket>(config.JWT_SECRET, "oauth-link-ticket", q.ticket, clock.now());
      if (!ticket || ticket.p !== name) throw errors.unauthorized("invalid_token", "This link is not valid or has expired; start linking again from the app");
      // Link-flow CSRF: only a browser signed in to the account that asked for the link may complete it. Checked
      // before the ticket is spent, so the owner can sign in and come back to the same URL.
      const browser = await readBrowserSession(deps, request);
      if (!browser) {
        const back = safeRedirectPath(`/api/v1/auth/${name}?link=1&ticket=${encodeURIComponent(q.ticket ?? "")}`);
        return new Response(null, {
          status: 303,
          headers: { location: signInPath(back ?? "/signin"), "cache-control": "no-store", "referrer-policy": "no-referrer" },
        });
      }
      if (browser.user.id !== ticket.u) {
        return oauthErrorPage(
          "Linking refused",
          `This link was made for another Sidechain account, and this browser is signed in as @${browser.user.username}. Nothing ` +
            `was linked. To link your own account, start linking from the app while signed in to it.`,
          403,
        );
      }
      // Single use: a ticket leaked after use (history, logs) links nothing.
      if (!(await spendLinkTicket(deps, ticket.j, ticket.u, ticket.exp)))
        throw errors.unauthorized("invalid_token", "This link was already used; start linking again from the app");
      const auth = await loadLinkAuth(ticket.u, ticket.ss);
      if (!auth) throw errors.unauthorized("invalid_token", "This session has ended; sign in again");
      const refusal = linkRefusal(deps, auth); // L6 + L8, checked again at the end of the flow
      if (refusal) throw refusal;
      return { m: "link", u: auth.user.id, ss: auth.session.id };
    }
    const target = safeRedirectPath(q.redirect_to ?? "/");
    if (!target) throw errors.validation({ redirect_to: "Must be a relative path on this server, like /feed" });
    // An invite link's code rides in the sealed flow cookie and is spent only if this sign-in creates the account.
    if (q.invite !== undefined && !looksLikeInviteCode(q.invite)) throw errors.badRequest("invite_invalid", "This invite link is not valid");
    return q.invite === undefined ? { m: "web", r: target } : { m: "web", r: target, i: q.invite };
  };

  /** GET /auth/{provider}: 302 to the provider with state + PKCE, both bound to the encrypted flow cookie. */
  const start = async (name: ProviderName, query: typeof M.StartQuery.static, request: Request) => {
    if (!getProvider(config, name)) await failUnconfiguredPoll(name, query.session_id);
    const provider = requireProvider(name);
    const intent = await parseStart(name, query, request);
    if (intent instanceof Response) return intent;
    const { state, codeVerifier } = newFlowSecrets();
    const flow: Flow = { ...intent, p: name, s: state, v: codeVerifier };
    const sealed = await seal(config.JWT_SECRET, "oauth-flow", flow, clock.now() + FLOW_TTL_MS);
    return new Response(null, {
      status: 302,
      headers: {
        location: authorizationUrl(provider, state, codeVerifier).toString(),
        "set-cookie": cookie(flowCookie(name), sealed, flowCookieOptions(name, FLOW_TTL_MS / 1000)),
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
      },
    });
  };

  /** GET /auth/{provider}/callback: state check first, then the code exchange, then the flow's ending. */
  const callback = async (name: ProviderName, query: typeof M.CallbackQuery.static, request: Request): Promise<Response> => {
    const label = PROVIDER_LABEL[name];
    const clear = clearFlowCookie(name);
    const fail = (title: string, message: string, status = 400) => withCookies(oauthErrorPage(title, message, status), [clear]);
    const provider = getProvider(config, name);
    if (!provider) return fail("Not available", `${label} sign-in is not configured on this server.`, 404);

    // A missing or mismatched state is refused here, before anything is sent to the provider: the code is only
    // exchanged by the browser that started this flow (login CSRF and code injection end here).
    const flow = await unseal<Flow>(config.JWT_SECRET, "oauth-flow", readCookie(request, flowCookie(name)), clock.now());
    if (!flow || flow.p !== name) return fail("Sign-in failed", `This ${label} sign-in was not started in this browser, or it took longer than 10 minutes.`);
    if (!query.state || !safeEqual(query.state, flow.s))
      return fail("Sign-in failed", `The answer from ${label} does not match the sign-in started in this browser.`);

    const failFlow = async (message: string) => {
      if (flow.m === "plugin") await failPluginSignIn(deps, flow.sid, "error", message);
      return fail("Sign-in failed", message);
    };
    if (flow.m === "plugin") {
      const st = await pluginSignInState(deps, flow.sid);
      if (st !== "pending") return fail("This sign-in expired", "The plugin's sign-in expired or was already completed. Start again from the plugin.");
    }
    if (flow.m === "link") {
      // The browser must still be signed in to the account that started linking (see the start), before any
      // request reaches the provider.
      const browser = await readBrowserSession(deps, request);
      if (browser?.user.id !== flow.u)
        return fail("Linking failed", "This browser is no longer signed in to the account that started linking. Sign in and start linking again.", 403);
    }
    if (query.error) {
      return failFlow(
        query.error === "access_denied" ? `You cancelled the sign-in at ${label}.` : `${label} refused the sign-in (${query.error.slice(0, 60)}).`,
      );
    }
    if (!query.code) return failFlow(`${label} did not send an authorization code.`);

    const fetched = await fetchProfile(provider, query.code, flow.v);
    if (!fetched.ok) {
      deps.log.warn("oauth code exchange failed", { provider: name, reason: fetched.detail });
      return failFlow(fetched.message);
    }
    const profile = fetched.profile;

    if (flow.m === "link") {
      const auth = await loadLinkAuth(flow.u, flow.ss); // L6: the state is bound to this session
      if (!auth) return fail("Linking failed", "The session that started linking has ended. Sign in again and retry.", 401);
      const linked = await linkProvider(deps, auth, profile);
      if (!linked.ok) return fail("Linking failed", linked.error.message, linked.error.status);
      return withCookies(linkedPage(label, auth.user.username, linked.created), [clear]);
    }

    const signedIn = await signInWithProvider(deps, profile, flow.m === "web" && flow.i ? { invite: flow.i } : {});
    if (!signedIn.ok) {
      if (signedIn.error.code !== "approval_pending") return failFlow(signedIn.error.message);
      // A sign-up waiting for staff (approval mode): not a failure, but no session either.
      if (flow.m === "plugin") await failPluginSignIn(deps, flow.sid, "error", signedIn.error.message);
      return fail("Waiting for approval", signedIn.error.message, 403);
    }
    const user = signedIn.user;

    if (flow.m === "web") {
      const code = await createWebResult(deps, user.id);
      // This browser just signed in with the provider: it gets a browser session too (the server's own pages, e.g.
      // /device and the link flow, which Google- or Discord-only accounts could not otherwise reach).
      const browserSession = await startBrowserSession(deps, request, user.id, client(request));
      return new Response(null, {
        status: 302,
        headers: [
          ["location", flow.r],
          ["cache-control", "no-store"],
          ["referrer-policy", "no-referrer"],
          ["set-cookie", clear],
          ["set-cookie", cookie(RESULT_COOKIE, code, resultCookieOptions(120))],
          ["set-cookie", browserSession],
        ],
      });
    }

    // Plugin: the browser must confirm, naming the plugin sign-in, before the plugin's session is approved.
    const ticket = await seal(config.JWT_SECRET, "oauth-plugin-approval", { sid: flow.sid, u: user.id }, clock.now() + PLUGIN_SIGN_IN_TTL_MS);
    const csrf = csrfFor(request, config.PUBLIC_URL);
    const res = pluginConfirmPage({
      action: confirmAction,
      providerLabel: label,
      username: user.username,
      displayName: user.displayName,
      ticket,
      csrf: csrf.token,
    });
    return withCookies(res, [clear, csrf.setCookie]);
  };

  const providerRoutes = (name: ProviderName) => {
    const label = PROVIDER_LABEL[name];
    return new Elysia({ name: `oauth-${name}` })
      .use(authGuard(deps))
      .get(`/${name}`, ({ query, request }) => start(name, query, request), {
        rateLimit: "oauth-start",
        query: M.StartQuery,
        detail: {
          summary: `Start ${label} sign-in: session_id (plugin), redirect_to (web) or link=1 with a ticket (link)`,
          responses: M.startResponses,
        },
      })
      .get(`/${name}/callback`, ({ query, request }) => callback(name, query, request), {
        rateLimit: "oauth-callback",
        query: M.CallbackQuery,
        detail: { summary: `${label} redirects here after sign-in (register this URL at ${label})`, responses: M.callbackResponses },
      })
      .post(`/${name}/link-start`, ({ auth }) => linkStartUrl(deps, auth, name), {
        auth: true,
        response: { 200: M.LinkStartResponse, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema },
        detail: { summary: `Get a single-use URL (2 minutes) that links ${label} to the signed-in account when opened in a browser` },
      });
  };

  const unlink = async (auth: Auth, provider: string) => {
    if (!isProviderName(provider)) throw errors.notFound("identity_not_found", "No such provider is linked to this account");
    const r = await unlinkProvider(deps, auth, provider);
    if (!r.ok) throw r.error;
    return { ok: true as const };
  };
  const unlinkDoc = {
    auth: true as const,
    params: M.ProviderParams,
    response: { 200: Ok, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema },
  };

  return (
    new Elysia({ name: "oauth-routes", prefix: "/auth", detail: { tags: ["auth"] } })
      .use(authGuard(deps))
      .use(bodies(deps.config.BODY_MAX_BYTES)) // the confirmation below is a browser form
      .use(providerRoutes("google"))
      .use(providerRoutes("discord"))
      .post(
        "/oauth/confirm",
        async ({ body, request }) => {
          // Double-submit CSRF: only a form served by this server to this browser can approve.
          if (!csrfOk(request, body)) return oauthErrorPage("Sign-in failed", "This form has expired. Start again from the plugin.");
          const ticket = await unseal<{ sid: string; u: string }>(config.JWT_SECRET, "oauth-plugin-approval", body.ticket, clock.now());
          if (!ticket) return oauthErrorPage("This sign-in expired", "Start again from the plugin.");
          if (body.decision === "deny") {
            await failPluginSignIn(deps, ticket.sid, "denied", "The sign-in was cancelled in the browser");
            return pluginCancelledPage();
          }
          const user = await getUserById(deps, ticket.u);
          if (!user || !(await approvePluginSignIn(deps, ticket.sid, user.id))) {
            return oauthErrorPage("This sign-in expired", "The plugin's sign-in expired or was already completed. Start again from the plugin.");
          }
          return pluginDonePage(user.username);
        },
        {
          rateLimit: "oauth-confirm",
          accepts: { kinds: ["form"] },
          body: M.ConfirmBody,
          detail: { summary: "The plugin sign-in confirmation form (browser)", responses: M.confirmResponses },
        },
      )
      .get(
        "/oauth/poll",
        async ({ query, request }) => {
          const sid = query.session_id.toLowerCase();
          if (!PLUGIN_SESSION_ID.test(sid)) throw errors.validation({ session_id: "32 hexadecimal characters" });
          return pollPluginSignIn(deps, sid, client(request));
        },
        {
          rateLimit: "oauth-poll",
          query: M.PollQuery,
          response: { 200: M.PollResponse, 400: ErrorSchema, 429: ErrorSchema },
          detail: { summary: "The plugin polls its browser sign-in: pending, complete (once), error, expired or not_found (plugin)" },
        },
      )
      .post(
        "/oauth/exchange",
        async ({ request }) => {
          const code = readCookie(request, RESULT_COOKIE);
          const auth = code ? await redeemWebResult(deps, code, client(request)) : null;
          if (!auth) throw errors.badRequest("invalid_code", "No sign-in to collect: it was collected already, expired, or never happened in this browser");
          return new Response(JSON.stringify({ auth }), {
            headers: { "content-type": "application/json", "cache-control": "no-store", "set-cookie": cookie(RESULT_COOKIE, "", resultCookieOptions(0)) },
          });
        },
        {
          rateLimit: "oauth-exchange",
          response: { 200: M.AuthResponse, 400: ErrorSchema, 429: ErrorSchema },
          detail: { summary: "Web flow: trade the one-time result cookie set by the callback for {auth} (single use, 2 minutes)" },
        },
      )
      .get(
        "/identities",
        async ({ auth }) =>
          (await listIdentities(deps, auth.user.id)).map((i) => ({
            provider: i.provider,
            email: i.email ?? "",
            linked_at: new Date(i.linkedAt).toISOString(),
          })),
        { auth: true, response: { 200: M.IdentityList, 401: ErrorSchema }, detail: { summary: "The Google/Discord accounts linked to the signed-in account" } },
      )
      .delete("/identities/:provider", ({ auth, params }) => unlink(auth, params.provider), {
        ...unlinkDoc,
        detail: { summary: "Unlink a provider (recent sign-in needed; never the last way to sign in)" },
      })
      .post("/identities/:provider/unlink", ({ auth, params }) => unlink(auth, params.provider), {
        ...unlinkDoc,
        detail: { summary: "Unlink a provider (alias of DELETE for clients that cannot send DELETE)" },
      })
      // The plugin turns an empty-body POST into a GET; a bearer token (never a cookie) makes this safe from CSRF.
      .get("/identities/:provider/unlink", ({ auth, params }) => unlink(auth, params.provider), {
        ...unlinkDoc,
        detail: { summary: "Unlink a provider (plugin alias of the empty-body POST)" },
      })
  );
};

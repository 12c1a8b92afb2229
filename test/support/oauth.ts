// A real OAuth 2 server (oauth2-mock-server) standing in for Google or Discord, and a small browser that drives the
// sign-in flows against the app: it follows the redirects, keeps cookies, and submits the confirmation form.
import { OAuth2Server } from "oauth2-mock-server";
import type { TestEnv } from "./deps.ts";
import { freePort } from "./net.ts";

export type MockProvider = {
  server: OAuth2Server;
  /** The user-info body the next sign-ins get (Google: sub, email, email_verified, name; Discord: id, email, verified, username). */
  user: Record<string, unknown>;
  /** Requests that reached the provider's token and user-info endpoints. */
  calls: { token: number; userinfo: number };
  /** Makes the next token request fail as a refused code would. */
  refuseNextCode(): void;
  env(prefix: "GOOGLE" | "DISCORD"): Record<string, string>;
  stop(): Promise<void>;
};

export async function startMockProvider(): Promise<MockProvider> {
  const server = new OAuth2Server();
  await server.issuer.keys.generate("RS256");
  await server.start(await freePort(), "127.0.0.1");
  const base = server.issuer.url!;
  const mock: MockProvider = {
    server,
    user: { sub: "default" },
    calls: { token: 0, userinfo: 0 },
    refuseNextCode() {
      server.service.once("beforeResponse", (res) => {
        res.body = { error: "invalid_grant", error_description: "the code was refused" };
        res.statusCode = 400;
      });
    },
    env: (prefix) => ({
      [`${prefix}_CLIENT_ID`]: `${prefix.toLowerCase()}-client`,
      [`${prefix}_CLIENT_SECRET`]: `${prefix.toLowerCase()}-secret`,
      [`${prefix}_AUTH_URL`]: `${base}/authorize`,
      [`${prefix}_TOKEN_URL`]: `${base}/token`,
      [`${prefix}_USERINFO_URL`]: `${base}/userinfo`,
    }),
    stop: () => server.stop(),
  };
  server.service.on("beforeResponse", () => void mock.calls.token++);
  server.service.on("beforeUserinfo", (res) => {
    mock.calls.userinfo++;
    res.body = { ...mock.user };
  });
  return mock;
}

/** A cookie jar of one browser. */
export class Browser {
  cookies = new Map<string, string>();
  constructor(readonly env: TestEnv) {}

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  take(res: Response) {
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";");
      const [k, ...v] = pair!.trim().split("=");
      const value = v.join("=");
      if (!value || attrs.some((a) => /max-age=0/i.test(a.trim()))) this.cookies.delete(k!);
      else this.cookies.set(k!, value);
    }
    return res;
  }
  /** A request to the app, as this browser (cookies sent, cookies kept). */
  async app(url: string, init: RequestInit = {}) {
    const u = new URL(url, "http://localhost");
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set("cookie", this.header());
    return this.take(await this.env.app.handle(new Request(`http://localhost${u.pathname}${u.search}`, { ...init, headers })));
  }
  /** Follows the app's 302 to the provider, which redirects straight back with code and state: the callback URL. */
  async throughProvider(start: Response): Promise<string> {
    if (start.status !== 302) throw new Error(`start answered ${start.status}: ${await start.text()}`);
    const res = await fetch(start.headers.get("location")!, { redirect: "manual" });
    if (res.status !== 302) throw new Error(`provider answered ${res.status}: ${await res.text()}`);
    return res.headers.get("location")!;
  }
  /** Submits the plugin confirmation form on a callback page. */
  async confirm(pageHtml: string, decision: "approve" | "deny" = "approve") {
    const field = (name: string) =>
      new RegExp(`name="${name}" value="([^"]*)"`).exec(pageHtml)?.[1]?.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)));
    const action = /<form method="post" action="([^"]+)"/.exec(pageHtml)?.[1];
    if (!action) throw new Error(`no confirmation form in: ${pageHtml.slice(0, 300)}`);
    const form = new URLSearchParams({ csrf: field("csrf") ?? "", ticket: field("ticket") ?? "", decision });
    return this.app(action, { method: "POST", body: form, headers: { "content-type": "application/x-www-form-urlencoded" } });
  }
}

export const newSessionId = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex");

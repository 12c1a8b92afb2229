// A browser-like client for the server's pages: a cookie jar (Set-Cookie in, Cookie out, Max-Age=0 deletes),
// form posts (urlencoded, as a browser sends them), optional redirect following, and the CSRF field read from the
// page like a browser would submit it.
import type { TestEnv } from "./deps.ts";

export type Page = { status: number; url: string; html: string; headers: Headers };

export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(
    private env: TestEnv,
    private headers: Record<string, string> = {},
  ) {}

  private store(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const maxAge = attrs.map((a) => a.trim().toLowerCase()).find((a) => a.startsWith("max-age="));
      if (maxAge && Number(maxAge.slice(8)) <= 0) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async fetch(path: string, init: RequestInit = {}, follow = true): Promise<Page> {
    let url = path;
    let req: RequestInit = init;
    for (let hops = 0; hops < 5; hops++) {
      const headers = new Headers(req.headers);
      for (const [k, v] of Object.entries(this.headers)) headers.set(k, v);
      if (this.cookies.size) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
      // A browser keeps the #fragment of a location to itself: it never reaches the server.
      const res = await this.env.request(url.split("#")[0]!, { ...req, headers });
      this.store(res);
      const location = res.headers.get("location");
      if (follow && location && res.status >= 300 && res.status < 400) {
        if (!location.startsWith("/")) throw new Error(`redirect off the server: ${location}`);
        url = location;
        req = { method: "GET" };
        continue;
      }
      return { status: res.status, url, html: await res.text(), headers: res.headers };
    }
    throw new Error("too many redirects");
  }

  get(path: string, follow = true) {
    return this.fetch(path, {}, follow);
  }

  post(path: string, form: Record<string, string>, follow = true) {
    return this.fetch(
      path,
      { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form).toString() },
      follow,
    );
  }

  /** Submits the page's first form with its hidden fields (CSRF included) plus `fields`. */
  submit(page: Page, fields: Record<string, string> = {}, follow = true) {
    const form = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(page.html);
    if (!form) throw new Error(`no form on the page (${page.status}): ${page.html.slice(0, 300)}`);
    const hidden: Record<string, string> = {};
    for (const m of form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) hidden[m[1]!] = unescapeHtml(m[2]!);
    return this.post(unescapeHtml(form[1]!), { ...hidden, ...fields }, follow);
  }
}

const unescapeHtml = (s: string) => s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)));

/** The CSRF token a page's form carries. */
export const csrfOf = (page: Page) => /name="csrf" value="([^"]+)"/.exec(page.html)?.[1] ?? "";

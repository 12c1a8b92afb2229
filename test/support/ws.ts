// A WebSocket test client: connects with ?token=, records every frame, and waits for the next frame of a type.
export type Frame = { type: string; payload?: any; timestamp?: number; [k: string]: any };

export class WsClient {
  readonly frames: Frame[] = [];
  private read = 0;
  private waiters: (() => void)[] = [];
  closed?: { code: number; reason: string };
  readonly closedP: Promise<{ code: number; reason: string }>;
  pongs = 0;

  private constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (e) => {
      this.frames.push(typeof e.data === "string" ? JSON.parse(e.data) : { type: "(binary)" });
      this.wake();
    });
    ws.addEventListener("pong" as any, () => {
      this.pongs++;
      this.wake();
    });
    this.closedP = new Promise((resolve) =>
      ws.addEventListener("close", (e) => {
        this.closed = { code: e.code, reason: e.reason };
        this.wake();
        resolve(this.closed);
      }),
    );
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Opens a connection; rejects when the server refuses the upgrade or closes before it opens. */
  static connect(baseUrl: string, token: string | null, path = "/api/v1/ws", headers?: Record<string, string>): Promise<WsClient> {
    const sep = path.includes("?") ? "&" : "?";
    const url = `${baseUrl.replace(/^http/, "ws")}${path}${token === null ? "" : `${sep}token=${encodeURIComponent(token)}`}`;
    // Bun's WebSocket takes request headers (User-Agent, Origin) as a second argument; browsers' does not.
    const ws = headers ? new WebSocket(url, { headers } as unknown as string[]) : new WebSocket(url);
    const client = new WsClient(ws);
    return new Promise((resolve, reject) => {
      ws.addEventListener("open", () => resolve(client), { once: true });
      ws.addEventListener("error", () => reject(new Error(`WebSocket to ${path} failed to open`)), { once: true });
    });
  }

  send(frame: unknown) {
    this.ws.send(typeof frame === "string" || frame instanceof Uint8Array ? (frame as string) : JSON.stringify(frame));
  }

  heartbeat() {
    this.send({ type: "heartbeat", payload: {}, timestamp: Date.now() });
  }

  async until(check: () => boolean, timeoutMs: number, what: string) {
    const end = Date.now() + timeoutMs;
    while (!check()) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; frames so far: ${JSON.stringify(this.frames).slice(0, 1500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The next unread frame (of `type`, if given: frames of other types before it are skipped and returned too). */
  async next(type?: string, timeoutMs = 5000): Promise<Frame> {
    let found: Frame | undefined;
    await this.until(
      () => {
        while (this.read < this.frames.length) {
          const f = this.frames[this.read++]!;
          if (!type || f.type === type) {
            found = f;
            return true;
          }
        }
        return false;
      },
      timeoutMs,
      type ?? "a frame",
    );
    return found!;
  }

  /** Unread frames, marking them read. */
  drain(): Frame[] {
    const out = this.frames.slice(this.read);
    this.read = this.frames.length;
    return out;
  }

  close(code = 1000) {
    this.ws.close(code);
    return this.closedP;
  }

  async waitClosed(timeoutMs = 5000) {
    await this.until(() => this.closed !== undefined, timeoutMs, "close");
    return this.closed!;
  }
}

/** Sends a raw upgrade request and returns the HTTP answer (for refused upgrades). */
export function upgradeRequest(baseUrl: string, query: string, headers: Record<string, string> = {}) {
  return fetch(`${baseUrl}/api/v1/ws${query}`, {
    headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13", ...headers },
  });
}

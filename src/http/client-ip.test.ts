import { describe, expect, test } from "bun:test";
import { clientIp, parseTrustedProxies, setPeerAddress } from "./client-ip.ts";

const req = (peer: string | undefined, xff?: string) => {
  const r = new Request("http://localhost/", { headers: xff ? { "x-forwarded-for": xff } : {} });
  setPeerAddress(r, peer);
  return r;
};

describe("client IP", () => {
  test("without trusted proxies X-Forwarded-For is ignored: anyone could claim any address", () => {
    const none = parseTrustedProxies("");
    expect(clientIp(req("203.0.113.5", "198.51.100.1"), none)).toBe("203.0.113.5");
    expect(clientIp(req("::ffff:203.0.113.5"), none)).toBe("203.0.113.5");
    expect(clientIp(req(undefined), none)).toBe("unknown");
  });

  test("behind a trusted proxy, the right-most untrusted X-Forwarded-For entry is the client", () => {
    const trusted = parseTrustedProxies("10.0.0.0/8, 127.0.0.1, ::1");
    expect(clientIp(req("127.0.0.1", "198.51.100.7"), trusted)).toBe("198.51.100.7");
    // a client-supplied entry on the left cannot win over the address the proxy saw
    expect(clientIp(req("10.1.2.3", "6.6.6.6, 198.51.100.7, 10.0.0.9"), trusted)).toBe("198.51.100.7");
    expect(clientIp(req("::1", "2001:db8::1"), trusted)).toBe("2001:db8::1");
    // garbage in the header is skipped; all-trusted chains fall back to the first entry
    expect(clientIp(req("10.0.0.1", "not-an-ip, 10.0.0.2"), trusted)).toBe("10.0.0.2");
    expect(clientIp(req("10.0.0.1"), trusted)).toBe("10.0.0.1");
  });

  test("a malformed TRUSTED_PROXIES entry is refused", () => {
    expect(() => parseTrustedProxies("10.0.0.0/8, proxy.example.com")).toThrow(/not an IP address/);
  });
});

// The client's IP for rate limits and session records. X-Forwarded-For is believed only when the peer is a
// configured trusted proxy (TRUSTED_PROXIES: comma-separated IPs or CIDRs); otherwise anyone could claim any IP.
import { BlockList, isIP } from "node:net";

const peers = new WeakMap<Request, string>();

/** Records the TCP peer of a request (index.ts does this from Bun.serve's requestIP). */
export function setPeerAddress(request: Request, address: string | undefined) {
  if (address) peers.set(request, address);
}

const unmap = (ip: string) => (ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip);

export function parseTrustedProxies(spec: string): BlockList {
  const list = new BlockList();
  for (const raw of spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [addr, bits] = raw.split("/");
    const family = isIP(addr ?? "");
    if (!family) throw new Error(`TRUSTED_PROXIES: "${raw}" is not an IP address or CIDR`);
    const type = family === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
  }
  return list;
}

function trusted(list: BlockList, ip: string) {
  const family = isIP(ip);
  return family !== 0 && list.check(ip, family === 4 ? "ipv4" : "ipv6");
}

/** The client address: the peer, or, behind trusted proxies, the right-most untrusted X-Forwarded-For entry. */
export function clientIp(request: Request, trustedProxies: BlockList): string {
  const peer = unmap(peers.get(request) ?? "");
  if (!peer || !trusted(trustedProxies, peer)) return peer || "unknown";
  const chain = (request.headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((s) => unmap(s.trim()))
    .filter((s) => isIP(s));
  for (let i = chain.length - 1; i >= 0; i--) if (!trusted(trustedProxies, chain[i]!)) return chain[i]!;
  return chain[0] ?? peer;
}

import net from "node:net";

/**
 * Who is on the other end of the connection, for the attempt budgets (lib/auth/attempt-limits.ts).
 *
 * Next.js does not give server actions the socket address (`headers()` only has what the client
 * sent, and Next fills `X-Forwarded-For` from the socket only when the client did not send one:
 * node_modules/next/dist/server/base-server.js). So our server (lib/scripts/server.mjs) deletes
 * any client-supplied `x-cm-client-address` and sets it from `req.socket.remoteAddress` before
 * Next sees the request. `X-Forwarded-For` is believed only when that socket address is one of
 * `TRUSTED_PROXIES`, and then only up to the first hop that is not a trusted proxy (the
 * right-most untrusted address: the left part of the header is whatever the client wrote;
 * https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/X-Forwarded-For#security_and_privacy_concerns).
 */
export const CLIENT_ADDRESS_HEADER = "x-cm-client-address";

/** The client address when the request did not come through our server (e.g. `next dev`): one shared budget. */
export const UNKNOWN_CLIENT = "unknown";

/** Lists with no entry (TRUSTED_PROXIES unset, the default): nothing is trusted, no lookup needed. */
const emptyLists = new WeakSet<net.BlockList>();

export function parseTrustedProxies(spec: string | undefined): net.BlockList {
  const list = new net.BlockList();
  let entries = 0;
  for (const raw of (spec ?? "").split(",")) {
    const entry = raw.trim();
    if (!entry) continue;
    const [addr, bits] = entry.split("/");
    const ip = normalizeAddress(addr ?? "");
    const family = net.isIP(ip);
    if (!family) throw new Error(`TRUSTED_PROXIES: '${entry}' is not an IP address or CIDR`);
    entries++;
    const type = family === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(ip, type);
    else {
      const prefix = Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) throw new Error(`TRUSTED_PROXIES: '${entry}' has a bad prefix length`);
      list.addSubnet(ip, prefix, type);
    }
  }
  if (entries === 0) emptyLists.add(list);
  return list;
}

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) → `192.0.2.1`; brackets and zone ids dropped. */
export function normalizeAddress(a: string): string {
  let s = a.trim().replace(/^\[|\]$/g, "");
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(s);
  return mapped ? mapped[1]! : s.toLowerCase();
}

function isTrusted(list: net.BlockList, ip: string): boolean {
  // Every request asks this; BlockList.check builds a SocketAddress each time (node:internal/blocklist).
  if (emptyLists.has(list)) return false;
  const family = net.isIP(ip);
  return family !== 0 && list.check(ip, family === 4 ? "ipv4" : "ipv6");
}

/** The client's address: the socket's, or (behind a trusted proxy) the right-most untrusted X-Forwarded-For hop. */
export function clientAddressOf(h: Headers, trusted: net.BlockList): string {
  const socket = normalizeAddress(h.get(CLIENT_ADDRESS_HEADER) ?? "");
  if (!net.isIP(socket)) return UNKNOWN_CLIENT;
  if (!isTrusted(trusted, socket)) return socket;
  const hops = (h.get("x-forwarded-for") ?? "").split(",").map(normalizeAddress).filter(Boolean);
  let client = socket;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (!net.isIP(hop)) break; // garbage written by the client: the last proxy's view stands
    client = hop;
    if (!isTrusted(trusted, hop)) break;
  }
  return client;
}

let trusted: { spec: string | undefined; list: net.BlockList } | null = null;

/** The client address of a request (socket, or the proxy's X-Forwarded-For from TRUSTED_PROXIES). */
export function requestClientAddress(h: Headers, trustedProxies: string | undefined): string {
  if (!trusted || trusted.spec !== trustedProxies) trusted = { spec: trustedProxies, list: parseTrustedProxies(trustedProxies) };
  return clientAddressOf(h, trusted.list);
}

/**
 * The budget key of an address: IPv6 by its /64 (one customer's allocation, in which an attacker
 * can pick any address), IPv4 as is.
 */
export function addressBudgetKey(ip: string): string {
  if (net.isIP(ip) !== 6) return ip;
  const groups = expandIpv6(ip);
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : ip;
}

function expandIpv6(ip: string): string[] | null {
  const [head, tail] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined ? (tail ? tail.split(":") : []) : [];
  if (t.some((g) => g.includes(".")) || h.some((g) => g.includes("."))) return null;
  const missing = 8 - h.length - t.length;
  const all = tail !== undefined ? [...h, ...Array(missing).fill("0"), ...t] : h;
  return all.length === 8 ? all.map((g) => g.padStart(4, "0")) : null;
}

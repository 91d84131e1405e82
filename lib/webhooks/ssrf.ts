import "server-only";
import dns from "node:dns";
import net from "node:net";

/**
 * Where a webhook may be delivered. A tenant chooses the URL, so a URL is an attack on our own
 * network until proven otherwise (server-side request forgery): the host is resolved and every
 * address it resolves to must be public. Checked when the endpoint is created and again at every
 * delivery, and the delivery connects to the address that was checked (never a second lookup the
 * DNS could answer differently: DNS rebinding). docs/security.md records the threat.
 *
 * Refused ranges (IANA special-purpose registries,
 * https://www.iana.org/assignments/iana-ipv4-special-registry and
 * https://www.iana.org/assignments/iana-ipv6-special-registry):
 * loopback, RFC 1918 private, link-local (which holds the cloud metadata address 169.254.169.254),
 * CGNAT 100.64.0.0/10 (RFC 6598), "this network", benchmarking, documentation, multicast,
 * reserved; IPv6 loopback, unspecified, unique-local fc00::/7 (which holds AWS's IPv6 metadata
 * address fd00:ec2::254), link-local, site-local, multicast, documentation, discard; and IPv4
 * addresses carried inside IPv6 (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, NAT64
 * 64:ff9b::/96, 6to4 2002::/16) are checked as the IPv4 address they carry.
 */

const V4_BLOCKED: Array<[string, number, string]> = [
  ["0.0.0.0", 8, "a 'this network' address"],
  ["10.0.0.0", 8, "a private address"],
  ["100.64.0.0", 10, "a carrier-grade NAT address"],
  ["127.0.0.0", 8, "a loopback address"],
  ["169.254.0.0", 16, "a link-local address"],
  ["172.16.0.0", 12, "a private address"],
  ["192.0.0.0", 24, "an IETF protocol address"],
  ["192.0.2.0", 24, "a documentation address"],
  ["192.88.99.0", 24, "a 6to4 relay address"],
  ["192.168.0.0", 16, "a private address"],
  ["198.18.0.0", 15, "a benchmarking address"],
  ["198.51.100.0", 24, "a documentation address"],
  ["203.0.113.0", 24, "a documentation address"],
  ["224.0.0.0", 4, "a multicast address"],
  ["240.0.0.0", 4, "a reserved address"],
];
const V6_BLOCKED: Array<[string, number, string]> = [
  ["::", 128, "the unspecified address"],
  ["::1", 128, "a loopback address"],
  ["100::", 64, "a discard address"],
  ["2001:db8::", 32, "a documentation address"],
  ["2001::", 23, "an IETF protocol address"],
  ["fc00::", 7, "a unique-local (private) address"],
  ["fe80::", 10, "a link-local address"],
  ["fec0::", 10, "a site-local address"],
  ["ff00::", 8, "a multicast address"],
];
/** Names of cloud metadata services that resolve to link-local addresses inside the cloud. */
const BLOCKED_NAMES = new Set(["metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal", "localhost"]);
const METADATA_ADDRESSES = new Set(["169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200"]);

function v4ToInt(ip: string): number {
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}

/** The 16 bytes of an IPv6 address (net.isIPv6 must have accepted it). */
function v6ToBytes(ip: string): number[] {
  let s = ip.split("%")[0]!.toLowerCase();
  let tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const n = v4ToInt(dotted[2]!);
    tail = [(n >>> 16) & 0xffff, n & 0xffff];
    s = dotted[1]!;
    if (s.endsWith(":") && !s.endsWith("::")) s = s.slice(0, -1);
  }
  const hex = (part: string) => (part ? part.split(":").map((g) => parseInt(g, 16)) : []);
  let words: number[];
  if (s.includes("::")) {
    const [h, r] = s.split("::") as [string, string];
    const hw = hex(h);
    const rw = hex(r);
    words = [...hw, ...new Array<number>(8 - hw.length - rw.length - tail.length).fill(0), ...rw, ...tail];
  } else words = [...hex(s), ...tail];
  const bytes: number[] = [];
  for (const w of words) bytes.push((w >> 8) & 0xff, w & 0xff);
  return bytes;
}

function inV6Prefix(bytes: number[], prefix: string, bits: number): boolean {
  const p = v6ToBytes(prefix);
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (p[i]! & mask)) return false;
  }
  return true;
}

function v4Reason(ip: string): string | null {
  const n = v4ToInt(ip);
  if (n === 0xffffffff) return "the broadcast address";
  for (const [base, bits, why] of V4_BLOCKED) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if (((n & mask) >>> 0) === ((v4ToInt(base) & mask) >>> 0)) return why;
  }
  return null;
}

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), or null. */
export function embeddedIPv4(ip: string): string | null {
  const b = v6ToBytes(ip);
  const quad = (o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
  if (inV6Prefix(b, "::ffff:0:0", 96) || inV6Prefix(b, "64:ff9b::", 96)) return quad(12);
  if (inV6Prefix(b, "::", 96) && !inV6Prefix(b, "::", 127)) return quad(12); // IPv4-compatible (deprecated)
  if (inV6Prefix(b, "2002::", 16)) return quad(2);
  return null;
}

/** Why this IP literal may not be a webhook target, or null when it is a public address. */
export function blockedAddressReason(ip: string): string | null {
  const bare = ip.replace(/^\[|\]$/g, "");
  const family = net.isIP(bare.split("%")[0]!);
  if (family === 0) return "not an IP address";
  if (METADATA_ADDRESSES.has(bare.toLowerCase())) return "a cloud metadata address";
  if (family === 4) return v4Reason(bare);
  const v4 = embeddedIPv4(bare);
  if (v4 !== null) {
    if (METADATA_ADDRESSES.has(v4)) return "a cloud metadata address";
    const r = v4Reason(v4);
    return r ? `${r} (inside an IPv6 address)` : null;
  }
  const bytes = v6ToBytes(bare);
  if (bytes.every((x, i) => x === v6ToBytes("fd00:ec2::254")[i])) return "a cloud metadata address";
  for (const [base, bits, why] of V6_BLOCKED) if (inV6Prefix(bytes, base, bits)) return why;
  return null;
}

export class TargetRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TargetRefused";
  }
}

export type Resolver = (host: string) => Promise<Array<{ address: string; family: number }>>;

/**
 * How a tenant's host name is resolved: by DNS queries from the event loop (c-ares,
 * dns.promises.Resolver), never dns.lookup. "dns.lookup() ... is implemented as a synchronous
 * call to getaddrinfo(3) that runs on libuv's threadpool", while the dns.resolve*() functions
 * "always perform a DNS query on the network ... asynchronously and [do] not use libuv's
 * threadpool" (https://nodejs.org/api/dns.html#implementation-considerations). libuv lets
 * getaddrinfo hold at most half the pool (2 of 4 threads: `slow_work_thread_threshold` in
 * https://github.com/libuv/libuv/blob/v1.x/src/threadpool.c) and queues the rest behind it.
 * Measured with a name server that never answers: four such lookups held those two threads 10 s
 * each (glibc's 5 s timeout, 2 attempts), and another tenant's lookup of `localhost` waited
 * 19.9 s behind them; every outbound connection by name (provider tests, KMS, SMTP) queues there.
 * With c-ares a hanging name costs a pending query and a timer, and gives up after `timeoutMs`.
 *
 * What changes against getaddrinfo: /etc/hosts, search domains and NSS modules are not used
 * (a webhook target is a public name in public DNS; `localhost` is answered below when private
 * targets are allowed, RFC 6761 section 6.3). A and AAAA are asked in parallel; IPv4 addresses
 * come first, so the address connected to (the first, pinned in deliver.ts) is IPv4 when there is
 * one. A family whose query fails is left out when the other answers: only checked addresses are
 * ever connected to.
 */
export function dnsResolver(opts: { servers?: string[]; timeoutMs?: number; queryTimeoutMs?: number; tries?: number } = {}): Resolver {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  return async (host) => {
    // One channel per check, so cancel() at the deadline ends this check's queries only
    // (https://nodejs.org/api/dns.html#resolvercancel); `timeout` is per query try, in ms.
    const r = new dns.promises.Resolver({ timeout: opts.queryTimeoutMs ?? 2_000, tries: opts.tries ?? 2 });
    if (opts.servers) r.setServers(opts.servers);
    const deadline = setTimeout(() => r.cancel(), timeoutMs);
    try {
      const [v4, v6] = await Promise.allSettled([r.resolve4(host), r.resolve6(host)]);
      const addrs = [
        ...(v4.status === "fulfilled" ? v4.value.map((address) => ({ address, family: 4 })) : []),
        ...(v6.status === "fulfilled" ? v6.value.map((address) => ({ address, family: 6 })) : []),
      ];
      if (addrs.length === 0 && v4.status === "rejected") throw v4.reason;
      return addrs;
    } finally {
      clearTimeout(deadline);
    }
  };
}

/** The default: the system's name servers (/etc/resolv.conf), each query bounded. */
export const systemResolver: Resolver = dnsResolver();

const LOOPBACK = [
  { address: "127.0.0.1", family: 4 },
  { address: "::1", family: 6 },
];

export interface CheckedTarget {
  url: URL;
  /** The hostname for TLS (SNI and certificate check) and the Host header. */
  hostname: string;
  /** The address that was checked: the one to connect to. */
  address: string;
  family: 4 | 6;
}

/**
 * The URL's syntax: https (http too when private targets are allowed, for tests), no user
 * information (a password in a URL ends up in logs), no fragment. Throws TargetRefused with a
 * sentence for a person.
 */
export function parseTargetUrl(raw: string, opts: { allowPrivate: boolean }): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefused("is not a valid URL");
  }
  if (url.protocol !== "https:" && !(opts.allowPrivate && url.protocol === "http:")) throw new TargetRefused("must be an https:// URL");
  if (url.username || url.password) throw new TargetRefused("must not contain a user name or password");
  if (url.hash) throw new TargetRefused("must not contain a #fragment");
  if (!url.hostname) throw new TargetRefused("must name a host");
  return url;
}

/**
 * Parse, resolve and check a webhook target. Every address the name resolves to must be allowed
 * (a name with one public and one private address is refused), and the first is returned to
 * connect to. `allowPrivate` (WEBHOOK_ALLOW_PRIVATE=1, tests only) skips the address check.
 */
export async function checkWebhookTarget(raw: string, opts: { allowPrivate: boolean; resolve?: Resolver }): Promise<CheckedTarget> {
  const url = parseTargetUrl(raw, opts);
  const hostname = url.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "").toLowerCase();
  if (!opts.allowPrivate && (BLOCKED_NAMES.has(hostname) || hostname.endsWith(".localhost") || hostname.endsWith(".internal"))) {
    throw new TargetRefused(`must not point at ${hostname} (a local or cloud metadata name)`);
  }
  let addrs: Array<{ address: string; family: number }>;
  const literal = net.isIP(hostname);
  if (literal) addrs = [{ address: hostname, family: literal }];
  else {
    try {
      // Only reached with private targets allowed (the name is refused above otherwise).
      if (hostname === "localhost" || hostname.endsWith(".localhost")) addrs = LOOPBACK;
      else addrs = await (opts.resolve ?? systemResolver)(hostname);
    } catch {
      throw new TargetRefused(`has a host name that does not resolve (${hostname})`);
    }
  }
  if (addrs.length === 0) throw new TargetRefused(`has a host name that does not resolve (${hostname})`);
  if (!opts.allowPrivate) {
    for (const a of addrs) {
      const why = blockedAddressReason(a.address);
      if (why) throw new TargetRefused(`resolves to ${why} (${a.address}); webhooks go to public hosts only`);
    }
  }
  const first = addrs[0]!;
  return { url, hostname, address: first.address, family: first.family === 6 ? 6 : 4 };
}

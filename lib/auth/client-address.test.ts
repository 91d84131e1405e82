import { describe, expect, it } from "vitest";
import { addressBudgetKey, CLIENT_ADDRESS_HEADER, clientAddressOf, normalizeAddress, parseTrustedProxies, UNKNOWN_CLIENT } from "./client-address";

const req = (socket: string | null, xff?: string) => {
  const h = new Headers();
  if (socket !== null) h.set(CLIENT_ADDRESS_HEADER, socket);
  if (xff !== undefined) h.set("x-forwarded-for", xff);
  return h;
};

describe("client address", () => {
  const none = parseTrustedProxies(undefined);
  const proxies = parseTrustedProxies("10.0.0.0/8, 192.0.2.1");

  it("is the socket's address; X-Forwarded-For from an untrusted peer is ignored", () => {
    expect(clientAddressOf(req("203.0.113.5", "1.2.3.4"), none)).toBe("203.0.113.5");
    expect(clientAddressOf(req("::ffff:203.0.113.5", "1.2.3.4"), none)).toBe("203.0.113.5");
    expect(clientAddressOf(req("203.0.113.5", "1.2.3.4"), proxies)).toBe("203.0.113.5");
  });

  it("behind a trusted proxy, is the right-most hop that is not a trusted proxy", () => {
    expect(clientAddressOf(req("10.1.2.3", "198.51.100.7"), proxies)).toBe("198.51.100.7");
    // The client wrote "1.2.3.4" itself; the proxy appended the real peer.
    expect(clientAddressOf(req("10.1.2.3", "1.2.3.4, 198.51.100.7"), proxies)).toBe("198.51.100.7");
    expect(clientAddressOf(req("10.1.2.3", "1.2.3.4, 198.51.100.7, 192.0.2.1"), proxies)).toBe("198.51.100.7");
    expect(clientAddressOf(req("10.1.2.3", "garbage, 198.51.100.7"), proxies)).toBe("198.51.100.7");
    expect(clientAddressOf(req("10.1.2.3", "198.51.100.7, garbage"), proxies)).toBe("10.1.2.3");
    expect(clientAddressOf(req("10.1.2.3"), proxies)).toBe("10.1.2.3");
  });

  it("is 'unknown' (one shared budget) when the server did not set it", () => {
    expect(clientAddressOf(req(null, "1.2.3.4"), proxies)).toBe(UNKNOWN_CLIENT);
    expect(clientAddressOf(req("not an ip"), none)).toBe(UNKNOWN_CLIENT);
  });

  it("parses TRUSTED_PROXIES and refuses nonsense", () => {
    expect(() => parseTrustedProxies("10.0.0.0/33")).toThrow(/prefix/);
    expect(() => parseTrustedProxies("example.com")).toThrow(/not an IP/);
    expect(parseTrustedProxies("2001:db8::/32").check("2001:db8::1", "ipv6")).toBe(true);
  });

  it("normalizes and keys IPv6 by /64", () => {
    expect(normalizeAddress("[::1]")).toBe("::1");
    expect(normalizeAddress("fe80::1%eth0")).toBe("fe80::1");
    expect(addressBudgetKey("2001:db8:1:2::5")).toBe("2001:0db8:0001:0002::/64");
    expect(addressBudgetKey("203.0.113.5")).toBe("203.0.113.5");
  });
});

import { describe, expect, it } from "vitest";
import { blockedAddressReason, checkWebhookTarget, embeddedIPv4, TargetRefused, type Resolver } from "./ssrf";

/** Each refusal of lib/webhooks/ssrf.ts, performed: the URL a hostile tenant would register. */
const dnsOf =
  (table: Record<string, string[]>): Resolver =>
  async (host) => {
    const a = table[host];
    if (!a) throw Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
    return a.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
const publicDns = dnsOf({ "hooks.example.com": ["93.184.216.34"], "v6.example.com": ["2606:2800:220:1:248:1893:25c8:1946"] });

async function refusal(url: string, resolve: Resolver = publicDns): Promise<string> {
  try {
    await checkWebhookTarget(url, { allowPrivate: false, resolve });
  } catch (e) {
    expect(e).toBeInstanceOf(TargetRefused);
    return (e as Error).message;
  }
  throw new Error(`${url} was accepted`);
}

describe("webhook target checks (SSRF)", () => {
  it("accepts an https URL whose host resolves to public addresses, and returns the address to connect to", async () => {
    const t = await checkWebhookTarget("https://hooks.example.com/cm?x=1", { allowPrivate: false, resolve: publicDns });
    expect(t).toMatchObject({ hostname: "hooks.example.com", address: "93.184.216.34", family: 4 });
    expect((await checkWebhookTarget("https://v6.example.com/", { allowPrivate: false, resolve: publicDns })).family).toBe(6);
    expect((await checkWebhookTarget("https://8.8.8.8/", { allowPrivate: false, resolve: publicDns })).address).toBe("8.8.8.8");
  });

  it("refuses http, other schemes, credentials in the URL, fragments and garbage", async () => {
    expect(await refusal("http://hooks.example.com/")).toBe("must be an https:// URL");
    expect(await refusal("ftp://hooks.example.com/")).toBe("must be an https:// URL");
    expect(await refusal("file:///etc/passwd")).toBe("must be an https:// URL");
    expect(await refusal("https://user:pw@hooks.example.com/")).toMatch(/user name or password/);
    expect(await refusal("https://hooks.example.com/#x")).toMatch(/fragment/);
    expect(await refusal("not a url")).toBe("is not a valid URL");
  });

  it.each([
    ["https://127.0.0.1/", /loopback/],
    ["https://127.8.9.10:8443/", /loopback/],
    ["https://2130706433/", /loopback/], // decimal form of 127.0.0.1 (the URL parser normalizes it)
    ["https://0x7f.1/", /loopback/],
    ["https://[::1]/", /loopback/],
    ["https://10.1.2.3/", /private/],
    ["https://172.20.0.1/", /private/],
    ["https://192.168.1.1/", /private/],
    ["https://169.254.10.10/", /link-local/],
    ["https://169.254.169.254/latest/meta-data/", /metadata/],
    ["https://[fd00:ec2::254]/", /metadata/],
    ["https://100.64.0.1/", /carrier-grade NAT/],
    ["https://100.127.255.254/", /carrier-grade NAT/],
    ["https://0.0.0.0/", /this network/],
    ["https://[::]/", /unspecified/],
    ["https://[fe80::1]/", /link-local/],
    ["https://[fc00::5]/", /unique-local/],
    ["https://[::ffff:127.0.0.1]/", /loopback.*inside an IPv6/],
    ["https://[::ffff:10.0.0.1]/", /private.*inside an IPv6/],
    ["https://[::ffff:169.254.169.254]/", /metadata/],
    ["https://[::ffff:7f00:1]/", /loopback/],
    ["https://[64:ff9b::a00:1]/", /private/], // NAT64 of 10.0.0.1
    ["https://[2002:c0a8:101::1]/", /private/], // 6to4 of 192.168.1.1
    ["https://224.0.0.1/", /multicast/],
    ["https://255.255.255.255/", /broadcast/],
  ])("refuses the IP literal in %s", async (url, why) => {
    expect(await refusal(url)).toMatch(why);
  });

  it("refuses metadata and local names without asking DNS", async () => {
    const never: Resolver = async () => {
      throw new Error("must not resolve");
    };
    expect(await refusal("https://metadata.google.internal/computeMetadata/v1/", never)).toMatch(/metadata/);
    expect(await refusal("https://METADATA.GOOGLE.INTERNAL./", never)).toMatch(/metadata/);
    expect(await refusal("https://localhost/", never)).toMatch(/local/);
    expect(await refusal("https://app.localhost/", never)).toMatch(/local/);
  });

  it("refuses a public-looking name that resolves to a private, loopback, metadata or mapped address", async () => {
    const evil = dnsOf({
      "internal.attacker.test": ["10.0.0.7"],
      "loop.attacker.test": ["127.0.0.1"],
      "meta.attacker.test": ["169.254.169.254"],
      "cgnat.attacker.test": ["100.100.100.200"],
      "mapped.attacker.test": ["::ffff:192.168.0.1"],
      "ula.attacker.test": ["fd12:3456::1"],
      // One public and one private address: a connection could pick either, so the name is refused.
      "mixed.attacker.test": ["93.184.216.34", "10.0.0.7"],
    });
    expect(await refusal("https://internal.attacker.test/", evil)).toMatch(/resolves to a private address \(10\.0\.0\.7\)/);
    expect(await refusal("https://loop.attacker.test/", evil)).toMatch(/loopback/);
    expect(await refusal("https://meta.attacker.test/", evil)).toMatch(/metadata/);
    expect(await refusal("https://cgnat.attacker.test/", evil)).toMatch(/metadata|carrier-grade/);
    expect(await refusal("https://mapped.attacker.test/", evil)).toMatch(/private.*inside an IPv6/);
    expect(await refusal("https://ula.attacker.test/", evil)).toMatch(/unique-local/);
    expect(await refusal("https://mixed.attacker.test/", evil)).toMatch(/10\.0\.0\.7/);
    expect(await refusal("https://nowhere.attacker.test/", evil)).toMatch(/does not resolve/);
  });

  it("with WEBHOOK_ALLOW_PRIVATE (tests only) allows http and loopback", async () => {
    const t = await checkWebhookTarget("http://127.0.0.1:9999/hook", { allowPrivate: true });
    expect(t).toMatchObject({ address: "127.0.0.1", hostname: "127.0.0.1" });
  });

  it("classifies addresses, including IPv4 carried in IPv6", () => {
    expect(blockedAddressReason("93.184.216.34")).toBeNull();
    expect(blockedAddressReason("2606:4700::1111")).toBeNull();
    expect(blockedAddressReason("::ffff:8.8.8.8")).toBeNull();
    expect(embeddedIPv4("::ffff:7f00:1")).toBe("127.0.0.1");
    expect(embeddedIPv4("64:ff9b::808:808")).toBe("8.8.8.8");
    expect(embeddedIPv4("2606:4700::1111")).toBeNull();
  });
});

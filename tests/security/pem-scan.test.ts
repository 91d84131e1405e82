import { beforeAll, describe, expect, it } from "vitest";
import { makeServiceAccountKey } from "../fakes/gcp-keys";
import { fakeOcid, makeOciApiKey } from "../fakes/oci-keys";
import { callAction, createApiKey, createOrganization, rest, signUp, whileProbing, type Session } from "./support";

/**
 * "One request freezes the server for everyone" (docs/security.md, Stalls), by regular expression.
 * Before the key checks open a private key they find its first PEM block, and they did so with an
 * unanchored expression with a lazy body and a back-reference to the label: a key made of
 * thousands of `-----BEGIN A-----` lines and no END line for them made it scan to the end of the
 * text from every one of them, quadratic in the key's size. A 60 KB key (the body limit is 64 KiB)
 * held the event loop for ~200 ms. Measured against the build before the fix: the 20 GCP setups
 * below held /healthz for 2.6 s; 20 OCI setups over REST for 1.25 s once, and 40 for less than
 * 1 s another time though they took 4.7 s (the REST requests leave gaps /healthz is answered in:
 * the OCI test is the weaker of the two). After the fix 70 OCI setups take under 1 s in all. The
 * key passes the format check (it begins and ends like a PEM private key): only the per-org setup
 * budget bounded the work, and an account can make any number of orgs. Now the block is found in
 * one pass (firstPemBlock, lib/kms/private-key.ts). The bound on /healthz (1 s) is the
 * one stalls.test.ts uses: it checks that the attack failed, not speed.
 */
const STALL_BOUND_MS = 1000;
/** Within the suite's per-org setup budget (ORG_RATE_LIMIT_PER_MINUTE=40, tests/support/stack.ts). */
const PARALLEL = 20;

let owner: Session;
const orgs: Array<{ org: string; key: string }> = [];

beforeAll(async () => {
  owner = await signUp();
  for (let i = 0; i < 2; i++) {
    const org = await createOrganization(owner);
    orgs.push({ org, key: await createApiKey(owner, org) });
  }
});

/** A PEM private key's first and last lines around `-----BEGIN A-----` lines, `size` characters in all. */
function beginLinesPem(size: number): string {
  let s = "-----BEGIN PRIVATE KEY-----\n";
  while (s.length < size) s += "-----BEGIN A-----\n";
  return `${s}-----END RSA PRIVATE KEY-----\n`;
}

describe("finding the PEM block is linear in the key's size", () => {
  it("OCI over REST: 20 setups at once with a 60 KB key of BEGIN lines are refused as unreadable, and /healthz keeps answering", async () => {
    const credential = {
      tenancy_ocid: fakeOcid("tenancy", "pemscan"),
      user_ocid: fakeOcid("user", "pemscan"),
      fingerprint: makeOciApiKey().fingerprint,
      private_key: beginLinesPem(58_000),
      region: "us-ashburn-1",
    };
    expect(JSON.stringify({ credential }).length).toBeLessThan(64 * 1024);
    const { result, worstMs, samples } = await whileProbing(
      () => Promise.all(Array.from({ length: PARALLEL }, () => rest("POST", `/integrations/${orgs[0]!.org}/oci/setup`, { key: orgs[0]!.key, body: { credential } }))),
      20,
    );
    for (const r of result) {
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.code).toBe("invalid_format");
      expect(Object.keys(r.body.error.fields)).toEqual(["credential.private_key"]);
    }
    expect(samples).toBeGreaterThan(0);
    expect(worstMs).toBeLessThan(STALL_BOUND_MS);
  });

  it("GCP through the server action: a key file whose private_key is such a key is refused, and /healthz keeps answering", async () => {
    const keyFile = { ...makeServiceAccountKey({ projectId: "finops-pemscan-1" }).keyFile, private_key: beginLinesPem(56_000) };
    const { org } = orgs[1]!;
    const { result, worstMs } = await whileProbing(
      () =>
        Promise.all(
          Array.from({ length: PARALLEL }, () =>
            callAction({
              page: `/orgs/${org}/integrations/gcp`,
              file: "actions/integrations.ts",
              name: "setupIntegrationAction",
              args: [org, "gcp", { credential: { service_account_json: JSON.stringify(keyFile) } }],
              cookie: owner.cookie,
            }),
          ),
        ),
      20,
    );
    for (const r of result) {
      expect(r.status, r.text.slice(0, 300)).toBe(200);
      expect(r.value?.ok, JSON.stringify(r.value)).toBe(false);
      expect(r.value.error.code).not.toBe("internal");
    }
    expect(worstMs).toBeLessThan(STALL_BOUND_MS);
  });
});

import { describe, expect, inject, it } from "vitest";
import { actionFrom, createOrgAs, newPerson, uniqueSlug } from "./auth-support";

/**
 * Attack: one account multiplies every per-org budget (setup/validate rate limit, provider pacing,
 * access limits) by creating organizations without end, in parallel so that a check-then-insert
 * cap is raced (docs/security.md, "Organizations per account"). The suite's server runs with the
 * default MAX_ORGS_PER_ACCOUNT, 10.
 */
const base = inject("baseUrl");

describe("organizations per account", () => {
  it("20 create-organization actions at once by one account make exactly 10 orgs; the rest are forbidden naming the limit", async () => {
    const mallory = await newPerson(base);
    const slugs = Array.from({ length: 20 }, () => uniqueSlug("many"));
    const replies = await Promise.all(
      slugs.map((slug) => {
        const fd = new FormData();
        fd.append("name", `Org ${slug}`);
        fd.append("slug", slug);
        return actionFrom(base, mallory.from, { page: "/orgs/new", file: "actions/auth.ts", name: "createOrganizationAction", args: [null, fd], cookie: mallory.cookie });
      }),
    );
    const made = replies.filter((r, i) => r.redirect?.startsWith(`/orgs/${slugs[i]}`));
    const refused = replies.filter((r) => r.redirect === null);
    expect(made.length, JSON.stringify(replies.map((r) => r.value ?? r.redirect))).toBe(10);
    expect(refused).toHaveLength(10);
    for (const r of refused) expect(JSON.stringify(r.value)).toMatch(/at most 10 organizations/);
    // One more, alone, later: still refused. Another account is not affected.
    await expect(createOrgAs(base, mallory)).rejects.toThrow(/at most 10 organizations/);
    const ann = await newPerson(base);
    expect(await createOrgAs(base, ann)).toMatch(/^acct/);
  });
});

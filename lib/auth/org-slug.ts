import { z } from "zod";

/**
 * The org slug rule, in one place (client-safe): the schemas (OrgSlugSchema), the authorization
 * check (an org path that breaks it is not found, without a lookup) and the OpenAPI path parameter
 * all use it.
 */
export const ORG_SLUG_RE = /^[a-z0-9][a-z0-9_-]{1,62}$/;

/** The rule in words, for field errors ("slug must be …"). */
export const ORG_SLUG_RULE = "must be 2–63 lowercase letters, digits, _ or -";

export const OrgSlugSchema = z.string().regex(ORG_SLUG_RE, { message: ORG_SLUG_RULE });

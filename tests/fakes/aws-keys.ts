import { fakeChars } from "./keys";

/**
 * Deterministic AWS identities the local AWS fake (tests/fakes/aws.ts) knows.
 *
 * They pass the registry formats (access key id `^(AKIA|ASIA)[A-Z0-9]{12,124}$`, secret
 * `^\S{16,128}$`) but are plainly fake: the ids spell FAKE and use the digits 0/1/8/9, which real
 * key ids (and the secret scanners' `[A-Z2-7]{16}` rule) never contain, and the secrets carry an
 * underscore, which real (base64) secrets never do. Secrets and session tokens come from a seeded
 * generator: stable across runs, sharing no 8-character run with any message a connection test
 * writes.
 */

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A 40-character fake secret access key. */
function fakeSecret(seed: string): string {
  return `fake_${fakeChars(`aws-secret/${seed}`, 35, ALNUM)}`;
}

/** A fake session token (real ones are long base64 blobs of no fixed size). */
function fakeSessionToken(seed: string): string {
  return `FakeSessionToken_${fakeChars(`aws-token/${seed}`, 120, ALNUM)}`;
}

export interface AwsPermissions {
  /** ce:GetCostAndUsage */
  ce: boolean;
  /** bedrock:ListFoundationModels */
  bedrock: boolean;
}

/** One access key the fake accepts. */
export interface FakeAwsIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  /** Required (as X-Amz-Security-Token) for temporary ASIA… keys. */
  sessionToken?: string;
  /** 12-digit account id. */
  account: string;
  /** What GetCallerIdentity returns as Arn. */
  arn: string;
  /** What GetCallerIdentity returns as UserId. */
  userId: string;
  permissions: AwsPermissions;
  /** A temporary key whose session ended: every call answers ExpiredToken. */
  expired?: boolean;
  /** Epoch ms after which the key counts as expired (issued role sessions). */
  expiresAt?: number;
}

export const FAKE_AWS_PLATFORM_ACCOUNT = "111111111111";
export const FAKE_AWS_CUSTOMER_ACCOUNT = "222222222222";
/** The account holding the fake customer roles. */
export const FAKE_AWS_ROLE_ACCOUNT = "333333333333";
/** An account nobody here controls: the untrusting role trusts it instead of the platform. */
export const FAKE_AWS_OTHER_ACCOUNT = "444444444444";

/** The platform's own identity (set it as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY): may assume the fake roles. */
export const FAKE_AWS_PLATFORM: FakeAwsIdentity = {
  accessKeyId: "AKIAFAKEPLATFORM0001",
  secretAccessKey: fakeSecret("platform"),
  account: FAKE_AWS_PLATFORM_ACCOUNT,
  arn: `arn:aws:iam::${FAKE_AWS_PLATFORM_ACCOUNT}:user/finops-platform`,
  userId: "AIDAFAKEPLATFORM0001",
  permissions: { ce: false, bedrock: false },
};

/** A customer's long-term key with ce:GetCostAndUsage → aws_keys ok, key_kind long_term. */
export const FAKE_AWS_KEYS: FakeAwsIdentity = {
  accessKeyId: "AKIAFAKECUSTOMER0001",
  secretAccessKey: fakeSecret("customer"),
  account: FAKE_AWS_CUSTOMER_ACCOUNT,
  arn: `arn:aws:iam::${FAKE_AWS_CUSTOMER_ACCOUNT}:user/finops-reader`,
  userId: "AIDAFAKECUSTOMER0001",
  permissions: { ce: true, bedrock: false },
};

/** A customer's long-term key without Cost Explorer access → permission_denied on read_costs. */
export const FAKE_AWS_KEYS_NO_CE: FakeAwsIdentity = {
  accessKeyId: "AKIAFAKENOCOSTS00001",
  secretAccessKey: fakeSecret("customer-no-ce"),
  account: FAKE_AWS_CUSTOMER_ACCOUNT,
  arn: `arn:aws:iam::${FAKE_AWS_CUSTOMER_ACCOUNT}:user/no-cost-access`,
  userId: "AIDAFAKENOCOSTS00001",
  permissions: { ce: false, bedrock: false },
};

/** Temporary (ASIA) key + session token with Cost Explorer access → ok, key_kind temporary. */
export const FAKE_AWS_TEMPORARY_KEYS: FakeAwsIdentity = {
  accessKeyId: "ASIAFAKETEMPORARY001",
  secretAccessKey: fakeSecret("temporary"),
  sessionToken: fakeSessionToken("temporary"),
  account: FAKE_AWS_CUSTOMER_ACCOUNT,
  arn: `arn:aws:sts::${FAKE_AWS_CUSTOMER_ACCOUNT}:assumed-role/FinOpsReader/console-session`,
  userId: "AROAFAKETEMPORARY001:console-session",
  permissions: { ce: true, bedrock: false },
};

/** Temporary key whose session has ended → ExpiredToken → expired. */
export const FAKE_AWS_EXPIRED_KEYS: FakeAwsIdentity = {
  accessKeyId: "ASIAFAKEEXPIRED00001",
  secretAccessKey: fakeSecret("expired"),
  sessionToken: fakeSessionToken("expired"),
  account: FAKE_AWS_CUSTOMER_ACCOUNT,
  arn: `arn:aws:sts::${FAKE_AWS_CUSTOMER_ACCOUNT}:assumed-role/FinOpsReader/old-session`,
  userId: "AROAFAKEEXPIRED00001:old-session",
  permissions: { ce: true, bedrock: false },
  expired: true,
};

/** Well-formed but unknown to the fake → InvalidClientTokenId → auth_failed. */
export const FAKE_AWS_UNKNOWN_KEYS = {
  accessKeyId: "AKIAFAKEUNKNOWN00001",
  secretAccessKey: fakeSecret("unknown"),
} as const;

/** Every identity the fake starts with. */
export const FAKE_AWS_IDENTITIES: readonly FakeAwsIdentity[] = [
  FAKE_AWS_PLATFORM,
  FAKE_AWS_KEYS,
  FAKE_AWS_KEYS_NO_CE,
  FAKE_AWS_TEMPORARY_KEYS,
  FAKE_AWS_EXPIRED_KEYS,
];

/** The platform identity as environment variables (what the SDK's default chain reads). */
export const FAKE_AWS_PLATFORM_ENV = {
  AWS_ACCESS_KEY_ID: FAKE_AWS_PLATFORM.accessKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE_AWS_PLATFORM.secretAccessKey,
} as const;

// --- Roles (register them with fake.trustRole(arn, externalId, permissions)) ---

/** A role to register as trusting the platform with an external ID, with ce + bedrock. */
export const FAKE_AWS_ROLE_ARN = `arn:aws:iam::${FAKE_AWS_ROLE_ACCOUNT}:role/FinOpsReader`;
/** A role to register as trusting the platform but granting nothing (no CE, no Bedrock). */
export const FAKE_AWS_ROLE_ARN_NO_PERMISSIONS = `arn:aws:iam::${FAKE_AWS_ROLE_ACCOUNT}:role/FinOpsNoPermissions`;
/** Pre-registered by the fake as trusting another account only → AccessDenied for the platform. */
export const FAKE_AWS_ROLE_ARN_UNTRUSTED = `arn:aws:iam::${FAKE_AWS_ROLE_ACCOUNT}:role/NotTrustingThePlatform`;
/** An external ID tests may use (the app generates a random one per org). */
export const FAKE_AWS_EXTERNAL_ID = `finops-${fakeChars("aws-external-id", 24, ALNUM)}`;

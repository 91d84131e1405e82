import crypto from "node:crypto";

/**
 * Google service account key files for tests, generated at test time (never committed): a fresh
 * RSA-2048 key pair, the private half as PKCS#8 PEM in a key file shaped like the ones the Cloud
 * Console downloads (docs/providers.md, "Google Cloud"), and the public half to register with the GCP fake.
 */

/** The key file fields (docs/providers.md, "Google Cloud"). */
export interface ServiceAccountKeyFile {
  type: "service_account";
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
  auth_provider_x509_cert_url: string;
  client_x509_cert_url: string;
  universe_domain: string;
}

export interface ServiceAccountTestKey {
  /** The whole key file, as a parsed object (what `service_account_json` holds after format checks). */
  keyFile: ServiceAccountKeyFile;
  /** The public half (what Google keeps; register it with the fake). */
  publicKey: crypto.KeyObject;
  /** SPKI PEM of the public half. */
  publicKeyPem: string;
}

export interface MakeServiceAccountKeyOptions {
  projectId: string;
  /** Default `finops-reader@<projectId>.iam.gserviceaccount.com`. */
  email?: string;
  /** Default Google's `https://oauth2.googleapis.com/token`; tests set it to a trap server. */
  tokenUri?: string;
  /** Default Google's; tests may point them at a trap server too. */
  authUri?: string;
  authProviderCertUrl?: string;
  clientCertUrl?: string;
}

export const GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token";

export function makeServiceAccountKey(opts: MakeServiceAccountKeyOptions): ServiceAccountTestKey {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const email = opts.email ?? `finops-reader@${opts.projectId}.iam.gserviceaccount.com`;
  // 21 decimal digits, not starting with 0.
  const clientId = String(1 + crypto.randomInt(9)) + Array.from({ length: 20 }, () => crypto.randomInt(10)).join("");
  const keyFile: ServiceAccountKeyFile = {
    type: "service_account",
    project_id: opts.projectId,
    private_key_id: crypto.randomBytes(20).toString("hex"),
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    client_email: email,
    client_id: clientId,
    auth_uri: opts.authUri ?? "https://accounts.google.com/o/oauth2/auth",
    token_uri: opts.tokenUri ?? GOOGLE_TOKEN_URI,
    auth_provider_x509_cert_url: opts.authProviderCertUrl ?? "https://www.googleapis.com/oauth2/v1/certs",
    client_x509_cert_url: opts.clientCertUrl ?? `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
    universe_domain: "googleapis.com",
  };
  return {
    keyFile,
    publicKey,
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

import type { NextConfig } from "next";
import { getRegistry } from "./lib/integrations/registry";
import { getEnv } from "./lib/env";

// Fail fast: a broken provider registry or bad configuration stops `next build` / `next start`
// with a message naming what is wrong, instead of failing on the first request.
getEnv();
getRegistry();

const nextConfig: NextConfig = {
  // Native and logging packages stay outside the bundle.
  // The Google clients and gRPC go out together or not at all: two copies of @grpc/grpc-js break
  // channel credentials ("Channel credentials must be a ChannelCredentials object").
  serverExternalPackages: [
    "better-sqlite3",
    "pino",
    "pino-pretty",
    "thread-stream",
    "@google-cloud/kms",
    "@google-cloud/bigquery",
    "@grpc/grpc-js",
    "@grpc/proto-loader",
    "google-gax",
    "google-auth-library",
    "@azure/identity",
    "@azure/msal-node",
    "oci-common",
  ],
  poweredByHeader: false,
  experimental: {
    // One body limit on every transport (docs/security.md): proxy.ts refuses bodies over 64 KiB
    // with 413 before Next sees them; this is the same limit again inside Next's action handler.
    serverActions: { bodySizeLimit: "64kb" },
    // How much of a body proxy.ts gets to read (beyond it Next truncates its copy): enough to see
    // that a body is over 64 KiB even when it arrives in 64 KiB chunks without a Content-Length.
    proxyClientMaxBodySize: "192kb",
  },
  // `npm test` typechecks the whole project (tests included) as its own step; the build does not
  // repeat it, so a half-written test elsewhere cannot stop `npm start`.
  typescript: { ignoreBuildErrors: true },
  reactStrictMode: true,
  async headers() {
    return [
      {
        source: "/:path*",
        headers: [
          { key: "X-Content-Type-Options", value: "nosniff" },
          { key: "Referrer-Policy", value: "no-referrer" },
          { key: "X-Frame-Options", value: "DENY" },
        ],
      },
    ];
  },
};

export default nextConfig;

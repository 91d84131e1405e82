import type { ReactNode } from "react";
import "./globals.css";

// Every page renders per request: proxy.ts sets a fresh CSP nonce that Next puts on its scripts,
// which a page prerendered at build time could not carry (docs/security.md).
export const dynamic = "force-dynamic";

export const metadata = {
  title: { default: "Credential manager", template: "%s · Credential manager" },
  description: "Connect cloud and GenAI providers to your FinOps platform: tested, encrypted, stored.",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-screen font-sans">
        <a
          href="#main"
          className="sr-only rounded-md bg-white px-3 py-2 text-sm font-medium text-brand-800 shadow focus:not-sr-only focus:absolute focus:top-2 focus:left-2 focus:z-50"
        >
          Skip to content
        </a>
        {children}
      </body>
    </html>
  );
}

import type { ReactNode } from "react";

export const metadata = {
  title: "Credential manager",
  description: "Connect cloud and GenAI providers to your FinOps platform: tested, encrypted, stored.",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: "system-ui, sans-serif", color: "#111827", background: "#ffffff", margin: 0 }}>{children}</body>
    </html>
  );
}

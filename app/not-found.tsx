import Link from "next/link";
import { Brand } from "./_components/brand";
import { buttonClasses } from "./_components/ui/button";

export const metadata = { title: "Not found" };

/** Also what a user sees for an organization they do not belong to: its existence is not revealed. */
export default function NotFound() {
  return (
    <div className="flex min-h-screen flex-col">
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto max-w-6xl px-4 py-3 sm:px-6">
          <Brand />
        </div>
      </header>
      <main id="main" className="mx-auto max-w-xl px-4 py-16 text-center">
        <p className="text-sm font-semibold text-brand-700">404</p>
        <h1 className="mt-2 text-2xl font-semibold">Page not found</h1>
        <p className="mt-2 text-slate-700">
          This page does not exist, or it belongs to an organization you are not a member of. If someone invited you, open the invitation
          link they sent.
        </p>
        <Link href="/" className={buttonClasses("primary", "md", "mt-6")}>
          Go to your organizations
        </Link>
      </main>
    </div>
  );
}

import Link from "next/link";
import { BrandHeader } from "./_components/brand";
import { buttonClasses } from "./_components/ui/button";

export const metadata = { title: "Not found" };

/** Also what a user sees for an organization they do not belong to: its existence is not revealed. */
export default function NotFound() {
  return (
    <div className="flex min-h-screen flex-col">
      <BrandHeader />
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

import Link from "next/link";

/** The header of the pages shown without the app's navigation (sign-in, invitations, not found). */
export function BrandHeader() {
  return (
    <header className="border-b border-slate-200 bg-white">
      <div className="mx-auto max-w-6xl px-4 py-3 sm:px-6">
        <Brand />
      </div>
    </header>
  );
}

/** The product mark: a shield with a key hole, and the name. */
export function Brand({ href = "/" }: { href?: string }) {
  return (
    <Link href={href} className="inline-flex items-center gap-2 rounded-md font-semibold text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-600">
      <svg aria-hidden="true" viewBox="0 0 24 24" className="h-6 w-6 text-brand-600" fill="currentColor">
        <path d="M12 2 4 5v6c0 5 3.4 9.7 8 11 4.6-1.3 8-6 8-11V5l-8-3Zm0 6a2 2 0 0 1 1 3.73V15h-2v-3.27A2 2 0 0 1 12 8Z" />
      </svg>
      <span>Credential manager</span>
    </Link>
  );
}

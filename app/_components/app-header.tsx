import Link from "next/link";
import { signOutAction } from "@/actions/auth";
import { Brand } from "./brand";
import { OrgSwitcher } from "./org-switcher";
import { NavLink } from "./nav-link";

/** The signed-in header: brand, org switcher, sections of the current org, the user and sign out. */
export function AppHeader({
  email,
  orgs,
  current,
}: {
  email: string;
  orgs: Array<{ slug: string; name: string; role: string }>;
  current?: { slug: string; name: string; role: string };
}) {
  return (
    <header className="border-b border-slate-200 bg-white">
      <div className="mx-auto flex max-w-6xl flex-wrap items-center gap-x-4 gap-y-2 px-4 py-3 sm:px-6">
        <Brand />
        {orgs.length > 0 ? <OrgSwitcher orgs={orgs} current={current?.slug} /> : null}
        <div className="ml-auto flex items-center gap-3">
          <span className="hidden text-sm text-slate-600 sm:inline" data-testid="signed-in-as">
            {email}
          </span>
          <form action={signOutAction}>
            <button type="submit" className="rounded-md px-2 py-1 text-sm font-medium text-slate-700 hover:bg-slate-100 focus-visible:outline-2 focus-visible:outline-brand-600">
              Sign out
            </button>
          </form>
        </div>
      </div>
      {current ? (
        <nav aria-label="Organization" className="mx-auto max-w-6xl px-4 sm:px-6">
          <ul className="-mb-px flex gap-1 overflow-x-auto whitespace-nowrap">
            <li>
              <NavLink href={`/orgs/${current.slug}/integrations`}>Integrations</NavLink>
            </li>
            <li>
              <NavLink href={`/orgs/${current.slug}/settings/members`}>Members</NavLink>
            </li>
            <li>
              <NavLink href={`/orgs/${current.slug}/settings/api-keys`}>API keys</NavLink>
            </li>
            <li>
              <NavLink href={`/orgs/${current.slug}/settings/webhooks`}>Webhooks</NavLink>
            </li>
            {current.role === "owner" || current.role === "admin" ? (
              <li>
                <NavLink href={`/orgs/${current.slug}/activity`}>Activity</NavLink>
              </li>
            ) : null}
          </ul>
        </nav>
      ) : (
        <div className="mx-auto max-w-6xl px-4 pb-2 sm:px-6">
          <Link href="/orgs/new" className="text-sm text-brand-700 underline">
            New organization
          </Link>
        </div>
      )}
    </header>
  );
}

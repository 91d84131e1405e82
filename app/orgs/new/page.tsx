import { redirect } from "next/navigation";
import { listMyOrganizations } from "@/lib/auth/org-accounts";
import { getSession, getSessionActor } from "@/lib/auth/session";
import { AppHeader } from "../../_components/app-header";
import { CreateOrgForm } from "../../_components/orgs/create-org-form";

export const metadata = { title: "New organization" };

export default async function NewOrgPage() {
  const actor = await getSessionActor();
  if (!actor) redirect("/sign-in?next=/orgs/new");
  const session = await getSession();
  const orgs = await listMyOrganizations(actor);
  return (
    <>
      <AppHeader email={session?.email ?? ""} orgs={orgs} />
      <main id="main" className="mx-auto max-w-xl px-4 py-10 sm:px-6">
        <h1 className="text-2xl font-semibold">{orgs.length === 0 ? "Create your first organization" : "New organization"}</h1>
        <p className="mt-2 text-slate-700">
          An organization holds your provider credentials, its members and its API keys. You will be its owner; invite your team from
          Members afterwards. Were you invited? Open the invitation link you were given instead.
        </p>
        <div className="mt-6">
          <CreateOrgForm />
        </div>
      </main>
    </>
  );
}

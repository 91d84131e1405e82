import Link from "next/link";
import type { ReactNode } from "react";
import { redirect } from "next/navigation";
import { listMyOrganizations } from "@/lib/auth/org-accounts";
import { getSessionActor } from "@/lib/auth/session";
import { publicRegistry } from "@/lib/integrations/public-registry";
import { Brand } from "./_components/brand";
import { buttonClasses } from "./_components/ui/button";
import { Card, CardContent } from "./_components/ui/card";

export const dynamic = "force-dynamic";

const STEPS = [
  { title: "Format check", text: "Every field is checked against the provider's documented format before anything leaves your browser." },
  { title: "Connection test", text: "The credential is proven against the provider's real API, including the permission the cost pipeline needs." },
  { title: "Encrypted", text: "Encrypted with a key service, bound to your organization and provider, before it is stored." },
  { title: "Never shown again", text: "After saving you see a fingerprint, never the secret. Replacing a key never breaks the working one." },
];

export default async function Home() {
  const actor = await getSessionActor();
  if (actor) {
    const orgs = await listMyOrganizations(actor);
    redirect(orgs[0] ? `/orgs/${orgs[0].slug}/integrations` : "/orgs/new");
  }
  const { providers, categories } = publicRegistry();
  return (
    <>
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-6xl items-center justify-between gap-4 px-4 py-3 sm:px-6">
          <Brand />
          <nav aria-label="Account" className="flex items-center gap-2">
            <Link href="/sign-in" className={buttonClasses("ghost", "sm")}>
              Sign in
            </Link>
            <Link href="/sign-up" className={buttonClasses("primary", "sm")}>
              Create an account
            </Link>
          </nav>
        </div>
      </header>
      <main id="main" className="mx-auto max-w-6xl px-4 py-12 sm:px-6">
        <section className="max-w-3xl">
          <h1 className="text-4xl font-bold tracking-tight text-slate-900 sm:text-5xl">Credential manager</h1>
          <p className="mt-4 text-lg leading-relaxed text-slate-700">
            Connect your organization&apos;s cloud and GenAI providers to the FinOps platform. Every credential is format-checked, proven
            against the provider, encrypted and stored; the cost pipelines get it back only when they run.
          </p>
          <div className="mt-6 flex flex-wrap gap-3">
            <Link href="/sign-up" className={buttonClasses("primary")}>
              Create an account
            </Link>
            <Link href="/sign-in" className={buttonClasses("outline")}>
              Sign in
            </Link>
          </div>
        </section>

        <TitledSection id="how" title="How a credential is handled">
          <ol className="mt-4 grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
            {STEPS.map((s, i) => (
              <li key={s.title}>
                <Card className="h-full">
                  <CardContent>
                    <p className="text-sm font-semibold text-brand-700">Step {i + 1}</p>
                    <p className="mt-1 font-semibold">{s.title}</p>
                    <p className="mt-2 text-sm text-slate-600">{s.text}</p>
                  </CardContent>
                </Card>
              </li>
            ))}
          </ol>
        </TitledSection>

        <TitledSection id="providers" title="Supported providers">
          <div className="mt-4 grid gap-6 md:grid-cols-3">
            {(Object.keys(categories) as Array<keyof typeof categories>).map((c) => (
              <div key={c}>
                <h3 className="text-sm font-semibold tracking-wide text-slate-500 uppercase">{categories[c]?.name}</h3>
                <ul className="mt-2 space-y-2">
                  {providers
                    .filter((p) => p.category === c)
                    .map((p) => (
                      <li key={p.id} className="rounded-md border border-slate-200 bg-white px-3 py-2 text-sm">
                        <span className="font-medium">{p.name}</span>
                        <span className="block text-slate-600">{p.credential_type_label}</span>
                      </li>
                    ))}
                </ul>
              </div>
            ))}
          </div>
        </TitledSection>

        <TitledSection id="api" title="Scripts and pipelines" className="max-w-3xl">
          <p className="mt-2 text-slate-700">
            Everything in the UI is also a REST API with org API keys (create them under Settings → API keys, or with{" "}
            <code className="rounded bg-slate-100 px-1 py-0.5 text-sm break-all">KEY=$(npm run --silent cli -- orgs create acme --json | jq -r .api_key)</code>). The contract is in{" "}
            <a className="text-brand-700 underline" href="/openapi.json">
              /openapi.json
            </a>
            ; providers and their fields in{" "}
            <a className="text-brand-700 underline" href="/providers">
              /providers
            </a>
            .
          </p>
        </TitledSection>
      </main>
    </>
  );
}

/** A section of the landing page under its heading (the heading names the section for assistive tech). */
function TitledSection({ id, title, className, children }: { id: string; title: string; className?: string; children: ReactNode }) {
  return (
    <section aria-labelledby={id} className={className ? `mt-14 ${className}` : "mt-14"}>
      <h2 id={id} className="text-xl font-semibold">
        {title}
      </h2>
      {children}
    </section>
  );
}

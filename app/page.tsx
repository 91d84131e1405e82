import { publicRegistry } from "@/lib/integrations/public-registry";

export const dynamic = "force-dynamic";

export default function Home() {
  const { providers, categories } = publicRegistry();
  return (
    <main style={{ maxWidth: 760, margin: "0 auto", padding: "2rem 1rem", lineHeight: 1.5 }}>
      <h1>Credential manager</h1>
      <p>
        Connect an organization&apos;s cloud and GenAI providers: each credential is format-checked, proven against the provider,
        encrypted and stored. Secrets are never shown again; only a fingerprint is.
      </p>
      <h2>Get started</h2>
      <ol>
        <li>
          Create an organization and its admin API key: <code>npm run cli -- orgs create acme --json</code>
        </li>
        <li>
          Connect a provider over the REST API: <code>POST /integrations/acme/openai/setup</code> with your key in <code>X-API-Key</code>.
        </li>
        <li>
          The API is described in <a href="/openapi.json">/openapi.json</a>; providers and their fields in <a href="/providers">/providers</a>.
        </li>
      </ol>
      <h2>Supported providers</h2>
      {(Object.keys(categories) as Array<keyof typeof categories>).map((c) => (
        <section key={c}>
          <h3>{categories[c]?.name}</h3>
          <ul>
            {providers
              .filter((p) => p.category === c)
              .map((p) => (
                <li key={p.id}>
                  <strong>{p.name}</strong> ({p.credential_type_label}){p.template ? <> as <code>saas_&lt;vendor&gt;</code></> : null}
                </li>
              ))}
          </ul>
        </section>
      ))}
    </main>
  );
}

import { startAnthropicFake, type AnthropicFake } from "./anthropic";
import { startGeminiFake, type GeminiFake } from "./gemini";
import { startOpenAIFake, type OpenAIFake } from "./openai";

/**
 * Starts the OpenAI, Anthropic and Gemini fakes on the given ports (random free ports by default).
 * `env` holds the endpoint override variables (docs/operations.md, "Provider endpoints") that point the app at them.
 */

export * from "./keys";
export type { RecordedRequest, FakeServer, FakeServerOptions } from "./server";
export { startOpenAIFake, type OpenAIFake, type OpenAIFakeMode } from "./openai";
export { startAnthropicFake, type AnthropicFake, type AnthropicFakeMode } from "./anthropic";
export { startGeminiFake, type GeminiFake, type GeminiFakeMode } from "./gemini";

export interface ProviderFakes {
  openai: OpenAIFake;
  anthropic: AnthropicFake;
  gemini: GeminiFake;
  urls: { openai: string; anthropic: string; gemini: string };
  env: { OPENAI_API_BASE: string; ANTHROPIC_API_BASE: string; GEMINI_API_BASE: string };
  close(): Promise<void>;
}

export async function startProviderFakes(
  opts: { openaiPort?: number; anthropicPort?: number; geminiPort?: number; host?: string } = {},
): Promise<ProviderFakes> {
  const started = await Promise.allSettled([
    startOpenAIFake({ port: opts.openaiPort, host: opts.host }),
    startAnthropicFake({ port: opts.anthropicPort, host: opts.host }),
    startGeminiFake({ port: opts.geminiPort, host: opts.host }),
  ] as const);
  const [o, a, g] = started;
  if (o.status !== "fulfilled" || a.status !== "fulfilled" || g.status !== "fulfilled") {
    await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.close() : undefined)));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
    throw failed?.reason instanceof Error ? failed.reason : new Error("could not start the provider fakes");
  }
  const openai = o.value;
  const anthropic = a.value;
  const gemini = g.value;
  return {
    openai,
    anthropic,
    gemini,
    urls: { openai: openai.url, anthropic: anthropic.url, gemini: gemini.url },
    env: { OPENAI_API_BASE: openai.url, ANTHROPIC_API_BASE: anthropic.url, GEMINI_API_BASE: gemini.url },
    async close() {
      await Promise.all([openai.close(), anthropic.close(), gemini.close()]);
    },
  };
}

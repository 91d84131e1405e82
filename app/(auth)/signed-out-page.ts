import "server-only";
import { redirect } from "next/navigation";
import { getSessionActor } from "@/lib/auth/session";
import { safeNext } from "@/lib/http/safe-next";

type Search = Record<string, string | string[] | undefined>;

/**
 * How the sign-in and sign-up pages start: a visitor who is already signed in goes straight to
 * `next` (only a same-site path, lib/http/safe-next.ts) or home; otherwise the page gets that `next`
 * and the email to prefill.
 */
export async function signedOutPage(searchParams: Promise<Search>): Promise<{ sp: Search; next: string | undefined; email: string | undefined }> {
  const sp = await searchParams;
  const next = safeNext(sp.next, undefined);
  if (await getSessionActor()) redirect(next ?? "/");
  const email = typeof sp.email === "string" ? sp.email.slice(0, 254) : undefined;
  return { sp, next, email };
}

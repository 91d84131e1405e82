import { redirect } from "next/navigation";
import { getSessionActor } from "@/lib/auth/session";
import { safeNext } from "@/lib/http/safe-next";
import { AuthForm } from "../../_components/auth/auth-form";

export const metadata = { title: "Sign in" };

export default async function Page({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const sp = await searchParams;
  const next = safeNext(sp.next, undefined);
  if (await getSessionActor()) redirect(next ?? "/");
  const email = typeof sp.email === "string" ? sp.email.slice(0, 254) : undefined;
  const notice = sp.reset === "1" ? "Your password was changed: sign in with the new one." : undefined;
  return <AuthForm mode="sign-in" next={next} email={email} notice={notice} />;
}

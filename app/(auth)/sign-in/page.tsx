import { AuthForm } from "../../_components/auth/auth-form";
import { signedOutPage } from "../signed-out-page";

export const metadata = { title: "Sign in" };

export default async function Page({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { sp, next, email } = await signedOutPage(searchParams);
  const notice = sp.reset === "1" ? "Your password was changed: sign in with the new one." : undefined;
  return <AuthForm mode="sign-in" next={next} email={email} notice={notice} />;
}

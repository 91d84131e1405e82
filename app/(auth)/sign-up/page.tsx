import { AuthForm } from "../../_components/auth/auth-form";
import { signedOutPage } from "../signed-out-page";

export const metadata = { title: "Create an account" };

export default async function Page({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { next, email } = await signedOutPage(searchParams);
  return <AuthForm mode="sign-up" next={next} email={email} />;
}

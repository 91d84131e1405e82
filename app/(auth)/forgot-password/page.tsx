import { RequestResetForm } from "../../_components/auth/password-forms";

export const metadata = { title: "Reset your password" };

export default function Page() {
  return <RequestResetForm />;
}

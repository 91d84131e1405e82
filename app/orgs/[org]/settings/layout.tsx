import type { ReactNode } from "react";
import { QueryProvider } from "../../../_components/query-provider";

/** TanStack Query only under settings (its managers use it), not in every org page's first load. */
export default function SettingsLayout({ children }: { children: ReactNode }) {
  return <QueryProvider>{children}</QueryProvider>;
}

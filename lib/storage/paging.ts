import "server-only";
import type { CredentialRow, CredentialStore } from "./store";

/**
 * Every stored row, in (org, provider) order, read page by page through `listPage` so no backend
 * has to hold the whole table in one answer. The one paging loop: rotation, validate-all and the
 * key-version census all read the table through it. `read` wraps each page call (the core passes
 * `withStore`, which turns an unavailable store into its error code).
 */
export async function* storedRows(
  store: CredentialStore,
  opts: { pageSize?: number; read?: <T>(fn: () => Promise<T>) => Promise<T> } = {},
): AsyncGenerator<CredentialRow> {
  const limit = opts.pageSize ?? 200;
  const read = opts.read ?? (<T>(fn: () => Promise<T>) => fn());
  let after: { org: string; provider: string } | undefined;
  for (;;) {
    const page = await read(() => store.listPage({ after, limit }));
    if (page.length === 0) return;
    yield* page;
    const last = page[page.length - 1]!;
    after = { org: last.org, provider: last.provider };
  }
}

/**
 * Polls `fn` every 50 ms until it returns a truthy value, and returns it; throws naming `what`
 * after `ms`. For anything another process or a background task writes (a log line, a pruned
 * row, a delivered mail): a fixed sleep instead is a race on a slow machine.
 */
export async function waitFor<T>(fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

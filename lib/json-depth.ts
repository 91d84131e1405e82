/**
 * Depth limit for values that come from users (docs/security.md, "every walk over user input has a
 * depth limit"). JSON.parse accepts any nesting, but every recursive walk after it (canonical JSON
 * for fingerprints, JSON.stringify for storage, React's reply reviver) overflows the stack at a few
 * thousand levels; checked here without recursion, before any of them runs. Client-safe.
 */

/** Nesting allowed in a request body or action argument (a GCP key file is 2 levels deep). */
export const MAX_INPUT_DEPTH = 32;

/**
 * The path to the first value nested deeper than `maxDepth` (objects and arrays each count one
 * level; the top-level value is level 1), or null when the whole value is within it.
 */
export function pathDeeperThan(value: unknown, maxDepth: number = MAX_INPUT_DEPTH): (string | number)[] | null {
  const stack: { v: unknown; depth: number; path: (string | number)[] }[] = [{ v: value, depth: 1, path: [] }];
  let visited = 0;
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > maxDepth) return path;
    // Bounded work as well: a 64 KiB body holds at most ~32k values.
    if (++visited > 1_000_000) return path;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], depth: depth + 1, path: path.length < 8 ? [...path, i] : path });
    } else {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) stack.push({ v: x, depth: depth + 1, path: path.length < 8 ? [...path, k] : path });
    }
  }
  return null;
}

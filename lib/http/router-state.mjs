// Next's router-state header (`Next-Router-State-Tree`, sent by the client router on navigations
// and server actions) is parsed and checked against `flightRouterStateSchema`
// (next/dist/server/app-render/types.js, parse-and-validate-flight-router-state.js); on a page that
// does not exist, a header that fails there ends in a 500. Next hides this header from proxy.ts,
// so the production server (lib/scripts/server.mjs) checks it with this, before Next sees the
// request (docs/security.md, "Input limits"). Plain JavaScript: the server is not compiled.
//
// The shape, checked without recursion: [segment, {slot: state}, url?, refresh?, flag?, string?],
// a segment being a string or [param, cacheKey, paramType, siblings | null].

const PARAM_TYPE = /^(c|oc|d|ci\(\.{1,3}\)|ci\(\.\.\)\(\.\.\)|di\(\.{1,3}\)|di\(\.\.\)\(\.\.\))$/;
const REFRESH = new Set(["refetch", "inside-shared-layout", "metadata-only"]);

function validSegment(seg) {
  if (typeof seg === "string") return true;
  return (
    Array.isArray(seg) &&
    seg.length === 4 &&
    typeof seg[0] === "string" &&
    typeof seg[1] === "string" &&
    typeof seg[2] === "string" &&
    PARAM_TYPE.test(seg[2]) &&
    (seg[3] === null || (Array.isArray(seg[3]) && seg[3].every((x) => typeof x === "string")))
  );
}

/** Why the router-state header value is refused, or null when Next will parse it. */
export function checkRouterStateHeader(value) {
  const why = "The router state header is not valid.";
  if (typeof value !== "string" || value.length > 40_000) return why;
  let state;
  try {
    state = JSON.parse(decodeURIComponent(value));
  } catch {
    return why;
  }
  const stack = [{ node: state, depth: 1 }];
  let visited = 0;
  while (stack.length > 0) {
    const { node, depth } = stack.pop();
    if (depth > 64 || ++visited > 10_000) return why;
    if (!Array.isArray(node) || node.length < 2 || node.length > 6) return why;
    const [segment, slots, url, refresh, flag, extra] = node;
    if (!validSegment(segment)) return why;
    if (!slots || typeof slots !== "object" || Array.isArray(slots)) return why;
    if (url != null && !(Array.isArray(url) && url.length === 2 && url.every((x) => typeof x === "string"))) return why;
    if (refresh != null && !REFRESH.has(refresh)) return why;
    if (flag != null && typeof flag !== "number") return why;
    if (node.length > 5 && extra !== undefined && typeof extra !== "string") return why;
    for (const child of Object.values(slots)) stack.push({ node: child, depth: depth + 1 });
  }
  return null;
}

/**
 * `instanceof` that holds across module copies. Next loads a module once per module graph: the
 * process-wide deps that instrumentation.ts builds live in one graph, each route in another, so an
 * error thrown by a store or cipher is another copy of its class than the one a route checks.
 * Error classes that cross that line carry a global brand (Symbol.for: one registry per process)
 * and answer `instanceof` by it (https://tc39.es/ecma262/#sec-instanceofoperator, Symbol.hasInstance).
 */
export function hasBrand(x: unknown, brand: symbol): boolean {
  return typeof x === "object" && x !== null && brand in x;
}

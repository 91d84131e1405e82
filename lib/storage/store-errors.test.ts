import { describe, expect, it, vi } from "vitest";

/**
 * Next loads a module once per module graph: the deps built in instrumentation.ts's graph throw
 * other copies of the store errors than a route's `withStore` checks. `instanceof` must hold across
 * copies, or a store outage becomes a 500 instead of 503 storage_unavailable.
 */
describe("store errors across module copies", () => {
  it("instanceof holds between two loads of lib/storage/store.ts, and only for the right class", async () => {
    const a = await import("./store");
    vi.resetModules();
    const b = await import("./store");
    expect(a.StoreConflictError).not.toBe(b.StoreConflictError); // really two copies
    expect(new a.StoreConflictError()).toBeInstanceOf(b.StoreConflictError);
    expect(new b.StoreUnavailableError()).toBeInstanceOf(a.StoreUnavailableError);
    expect(new a.StoreConflictError()).not.toBeInstanceOf(b.StoreUnavailableError);
    expect(new Error("x")).not.toBeInstanceOf(a.StoreConflictError);
    expect((null as unknown as object) instanceof a.StoreConflictError).toBe(false);
    expect(new a.StoreConflictError()).toBeInstanceOf(Error);
  });
});

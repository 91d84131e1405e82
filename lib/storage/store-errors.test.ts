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

describe("other errors that cross module graphs", () => {
  it("CipherError and AppError keep instanceof across two loads of their modules", async () => {
    const c1 = await import("../kms/cipher");
    const e1 = await import("../errors");
    vi.resetModules();
    const c2 = await import("../kms/cipher");
    const e2 = await import("../errors");
    expect(c1.CipherError).not.toBe(c2.CipherError);
    expect(new c1.CipherError("unavailable", "down")).toBeInstanceOf(c2.CipherError);
    expect(new e1.AppError("conflict", "x")).toBeInstanceOf(e2.AppError);
    expect(new e1.AppError("conflict", "x")).not.toBeInstanceOf(c2.CipherError);
    expect(new Error("x")).not.toBeInstanceOf(e2.AppError);
  });
});

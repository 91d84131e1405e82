import { describe, expect, it } from "vitest";
import { BODY_LIMIT_BYTES, readBodyUpTo } from "./body-guard";

function stream(chunks: number[]): { body: ReadableStream<Uint8Array>; pulled: () => number; cancelled: () => boolean } {
  let i = 0;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(new Uint8Array(chunks[i++]!).fill(0x61));
      else controller.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  return { body, pulled: () => i, cancelled: () => cancelled };
}

describe("readBodyUpTo (the one body reader of the REST routes and the proxy)", () => {
  it("reads a body within the limit whole", async () => {
    const s = stream([10, 20, 30]);
    const r = await readBodyUpTo(s.body, 100);
    expect(r.tooLarge).toBe(false);
    expect(r.bytes.byteLength).toBe(60);
    expect(Buffer.from(r.bytes).toString()).toBe("a".repeat(60));
  });

  it("stops reading at the first chunk past the limit and cancels the stream", async () => {
    const s = stream([60, 60, 60, 60]);
    const r = await readBodyUpTo(s.body, 100);
    expect(r.tooLarge).toBe(true);
    expect(r.bytes.byteLength).toBe(120);
    expect(s.pulled()).toBe(2);
    expect(s.cancelled()).toBe(true);
  });

  it("exactly the limit is not too large; no body is empty; the default limit is 64 KiB", async () => {
    expect((await readBodyUpTo(stream([100]).body, 100)).tooLarge).toBe(false);
    expect(await readBodyUpTo(null)).toEqual({ bytes: new Uint8Array(0), tooLarge: false });
    expect(BODY_LIMIT_BYTES).toBe(64 * 1024);
    expect((await readBodyUpTo(stream([BODY_LIMIT_BYTES, 1]).body)).tooLarge).toBe(true);
  });
});

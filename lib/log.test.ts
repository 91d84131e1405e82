import { describe, expect, it } from "vitest";
import { stackFramesOf, unexpectedErrorFields } from "./log";

describe("unexpected-error log fields", () => {
  it("keep the class name and the `at …` frames, never the message, even a multi-line one", () => {
    const secret = "sk-admin-CANARY0123456789abcdefghij";
    let err: Error;
    try {
      JSON.parse(`{"api_key": "${secret}"\n  at fake (frame.js:1:1)`);
      throw new Error("unreachable");
    } catch (e) {
      err = e as Error;
    }
    const multi = new TypeError(`first line\nsecond line with ${secret}\n    at ${secret}`);
    for (const e of [err, multi]) {
      const f = unexpectedErrorFields(e);
      expect(JSON.stringify(f)).not.toContain(secret);
      expect(JSON.stringify(f)).not.toContain("line");
      expect(f.stack.split("\n").every((l) => /^\s+at \S/.test(l))).toBe(true);
      expect(f.stack.length).toBeGreaterThan(0);
    }
    expect(unexpectedErrorFields(multi).err_name).toBe("TypeError");
  });

  it("cope with values that are not errors", () => {
    expect(unexpectedErrorFields("boom")).toEqual({ err_name: "Error", stack: "" });
    expect(unexpectedErrorFields(null)).toEqual({ err_name: "Error", stack: "" });
    expect(stackFramesOf({ stack: 42 })).toBe("");
    expect(unexpectedErrorFields({ name: "sk-live-123456789", stack: "x" }).err_name).toBe("Error");
  });
});

import { describe, expect, it } from "vitest";
import { createLogger, infoLine, REDACT_PATHS, stackFramesOf, TOP_LEVEL_REDACT_PATHS, unexpectedErrorFields } from "./log";

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

describe("infoLine (the per-request line)", () => {
  const SECRET = "sk-live-CANARY0123456789abcdefghij";
  const logged = (fields: Record<string, unknown>) => {
    const lines: string[] = [];
    const log = createLogger({ write: (line: string) => void lines.push(line) });
    log.level = "info";
    infoLine(log, fields, "request");
    infoLine(log, fields, "request"); // the second goes through the cached child
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(lines[1]!.replace(/"time":"[^"]*"/, lines[0]!.match(/"time":"[^"]*"/)![0]));
    return JSON.parse(lines[0]!) as Record<string, unknown>;
  };

  it("keeps every top-level redaction of the full list on a flat line", () => {
    expect(TOP_LEVEL_REDACT_PATHS.length).toBeGreaterThan(10);
    for (const p of REDACT_PATHS) if (!p.includes(".") && !p.includes("[")) expect(TOP_LEVEL_REDACT_PATHS).toContain(p);
    const fields = Object.fromEntries(TOP_LEVEL_REDACT_PATHS.map((p) => [p, SECRET]));
    const line = logged({ request_id: "r1", status: 200, ...fields });
    expect(JSON.stringify(line)).not.toContain(SECRET);
    for (const p of TOP_LEVEL_REDACT_PATHS) expect(line[p]).toBe("[redacted]");
    expect(line.request_id).toBe("r1");
    expect(line.service).toBe("credential-manager");
  });

  it("sends a line with a nested value through the full list (wildcard and header paths)", () => {
    const line = logged({ request_id: "r2", call: { api_key: SECRET }, headers: { authorization: `Bearer ${SECRET}`, "x-api-key": SECRET } });
    expect(JSON.stringify(line)).not.toContain(SECRET);
    expect(line.call).toEqual({ api_key: "[redacted]" });
    expect(line.headers).toEqual({ authorization: "[redacted]", "x-api-key": "[redacted]" });
  });

  it("follows the logger's level", () => {
    const lines: string[] = [];
    const log = createLogger({ write: (line: string) => void lines.push(line) });
    log.level = "info";
    infoLine(log, { a: 1 }, "request");
    log.level = "warn";
    infoLine(log, { a: 2 }, "request");
    expect(lines).toHaveLength(1);
  });
});

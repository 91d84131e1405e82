import { describe, expect, it } from "vitest";
import { API_KEY_ROLES } from "../auth/auth-store";
import { COMMANDS } from "./commands";
import { commandSynopsis, createIo, parseCommandLine, usage, UsageError } from "./run";

function stream(opts: { fail?: string } = {}) {
  const chunks: string[] = [];
  return {
    chunks,
    isTTY: false,
    write(text: string, cb?: (err?: Error | null) => void) {
      if (opts.fail) {
        const e = Object.assign(new Error(`write ${opts.fail}`), { code: opts.fail });
        queueMicrotask(() => cb?.(e));
        return false;
      }
      chunks.push(text);
      queueMicrotask(() => cb?.(null));
      return true;
    },
  } as unknown as NodeJS.WriteStream & { chunks: string[] };
}

describe("the command table", () => {
  it("generates one usage line per command, from the table", () => {
    const text = usage(COMMANDS);
    for (const c of COMMANDS) expect(text).toContain(`  ${commandSynopsis(c)}\n      ${c.summary}`);
    expect(text).toContain(`keys create <org> --role ${API_KEY_ROLES.join("|")} [--label TEXT] [--json]`);
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
  });

  it("selects a command by its words and checks positionals, required options and choices", () => {
    const p = parseCommandLine(COMMANDS, ["keys", "create", "acme", "--role", "viewer", "--json"]);
    expect(p).not.toBe("help");
    if (p === "help") return;
    expect(p.command.name).toBe("keys create");
    expect(p.args).toEqual({ org: "acme" });
    expect(p.values).toMatchObject({ role: "viewer", json: true });

    expect(() => parseCommandLine(COMMANDS, ["keys", "create", "acme"])).toThrow(`keys create needs --role ${API_KEY_ROLES.join("|")}`);
    expect(() => parseCommandLine(COMMANDS, ["keys", "create", "acme", "--role", "root"])).toThrow(/--role must be one of admin, viewer/);
    expect(() => parseCommandLine(COMMANDS, ["keys", "revoke", "acme"])).toThrow(/keys revoke needs <key-id>/);
    expect(() => parseCommandLine(COMMANDS, ["orgs", "list", "extra"])).toThrow(/unexpected argument "extra"/);
    expect(() => parseCommandLine(COMMANDS, ["orgs", "list", "--name", "x"])).toThrow(UsageError);
    expect(() => parseCommandLine(COMMANDS, ["orgs", "delete"])).toThrow(/unknown command: orgs delete/);
    expect(parseCommandLine(COMMANDS, [])).toBe("help");
    expect(parseCommandLine(COMMANDS, ["kms", "rotate", "--help"])).toBe("help");
  });
});

describe("output streams", () => {
  it("--json writes exactly one JSON document to stdout; progress and notes go to stderr", async () => {
    const out = stream();
    const err = stream();
    const io = createIo(true, out, err);
    io.progress(1, 2, "a/b");
    io.note("hello");
    await io.result("human text", { ok: true });
    await new Promise((r) => setImmediate(r));
    expect(out.chunks).toEqual(['{"ok":true}\n']);
    expect(err.chunks.join("")).toBe("[1/2] a/b\nhello\n");
  });

  it("a closed stdout (EPIPE) ends output quietly; a once-shown secret goes to stderr instead of being lost", async () => {
    const err = stream();
    const io = createIo(true, stream({ fail: "EPIPE" }), err);
    await expect(io.result("", { rows: 1 })).resolves.toBeUndefined();
    expect(err.chunks).toEqual([]);
    await io.result("", { api_key: "cmk_x" }, { secret: true });
    expect(err.chunks.join("")).toContain('{"api_key":"cmk_x"}');
  });
});

import { parseArgs } from "node:util";
import type { Actor } from "../auth/actor";
import type { CoreDeps } from "../deps";

/**
 * The command runner: finds the command in the table (lib/cli/commands.ts), parses and checks its
 * arguments, runs it, and owns the two output streams. stdout carries only the command's result
 * (with `--json`, exactly one JSON document); progress, warnings and logs go to stderr. A reader
 * that goes away early (`| head`, a failing `| jq`) is not an error: the run ends quietly.
 */

export type OptionSpec =
  | { type: "boolean"; help?: string }
  | { type: "string"; value: string; help?: string; required?: boolean; choices?: readonly string[] };

export interface Command {
  /** The words that select the command: "orgs create". */
  name: string;
  /** Required positional arguments, in order (shown as <name>). */
  positionals?: readonly string[];
  options?: Readonly<Record<string, OptionSpec>>;
  /** Whether it accepts --json (almost all do). */
  json?: boolean;
  /** One line for the usage text. */
  summary: string;
  /** Further usage lines, indented under the summary. */
  details?: readonly string[];
  run(ctx: CommandContext): Promise<number>;
}

export interface CommandContext {
  args: Record<string, string>;
  /** A string option's value (undefined when absent). */
  option(name: string): string | undefined;
  flag(name: string): boolean;
  json: boolean;
  deps: CoreDeps;
  actor: Actor;
  io: Io;
}

export class UsageError extends Error {}

/** Where a command writes. `result` is the command's answer; everything else goes to stderr. */
export interface Io {
  /**
   * Write the result: `data` as one JSON line with --json, else `human`. With `secret`, the result
   * holds something shown only once (a new API key): if stdout is gone, it goes to stderr instead,
   * so the key is never lost to a closed pipe.
   */
  result(human: string, data: unknown, opts?: { secret?: boolean }): Promise<void>;
  progress(done: number, total: number, label: string): void;
  note(text: string): void;
}

function optionUsage(name: string, spec: OptionSpec): string {
  if (spec.type === "boolean") return `[--${name}]`;
  const value = spec.choices ? spec.choices.join("|") : spec.value;
  return spec.required ? `--${name} ${value}` : `[--${name} ${value}]`;
}

export function commandSynopsis(c: Command): string {
  return [
    c.name,
    ...(c.positionals ?? []).map((p) => `<${p}>`),
    ...Object.entries(c.options ?? {}).map(([n, s]) => optionUsage(n, s)),
    ...(c.json === false ? [] : ["[--json]"]),
  ].join(" ");
}

/** The usage text, generated from the table: one line per command plus its details. */
export function usage(commands: readonly Command[]): string {
  const lines = ["Usage: npm run --silent cli -- <command>", ""];
  for (const c of commands) {
    lines.push(`  ${commandSynopsis(c)}`);
    for (const d of [c.summary, ...(c.details ?? [])]) lines.push(`      ${d}`);
  }
  lines.push("", "Every command: --json prints one JSON document on stdout and nothing else (progress and logs go to stderr); --help prints this.");
  return lines.join("\n");
}

export interface Parsed {
  command: Command;
  args: Record<string, string>;
  values: Record<string, string | boolean | undefined>;
}

/** Select the command by its words and parse its arguments; UsageError naming what is wrong. */
export function parseCommandLine(commands: readonly Command[], argv: readonly string[]): Parsed | "help" {
  if (argv.length === 0 || argv.includes("--help") || argv.includes("-h")) return "help";
  // The command's words come first (`orgs create acme --json`), its arguments after them.
  const words = argv.slice(0, 2).join(" ");
  const command = commands.find((c) => c.name === words);
  if (!command) throw new UsageError(`unknown command: ${argv.slice(0, 2).filter((a) => !a.startsWith("-")).join(" ") || argv[0]}`);
  const rest = argv.slice(2);
  const options: Record<string, { type: "string" | "boolean" }> = { json: { type: "boolean" } };
  for (const [n, s] of Object.entries(command.options ?? {})) options[n] = { type: s.type };
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${command.name}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (command.json === false && parsed.values.json) throw new UsageError(`${command.name} has no --json output`);
  const wanted = command.positionals ?? [];
  if (parsed.positionals.length < wanted.length) {
    throw new UsageError(`${command.name} needs ${wanted.slice(parsed.positionals.length).map((p) => `<${p}>`).join(" ")}`);
  }
  if (parsed.positionals.length > wanted.length) {
    throw new UsageError(`${command.name}: unexpected argument ${JSON.stringify(parsed.positionals[wanted.length])}`);
  }
  for (const [n, s] of Object.entries(command.options ?? {})) {
    const v = parsed.values[n];
    if (s.type !== "string") continue;
    if (s.required && (typeof v !== "string" || v === "")) throw new UsageError(`${command.name} needs --${n} ${s.choices?.join("|") ?? s.value}`);
    if (typeof v === "string" && s.choices && !s.choices.includes(v)) throw new UsageError(`--${n} must be one of ${s.choices.join(", ")}`);
  }
  const args: Record<string, string> = {};
  wanted.forEach((p, i) => (args[p] = parsed.positionals[i]!));
  return { command, args, values: parsed.values as Record<string, string | boolean | undefined> };
}

type Writable = Pick<NodeJS.WriteStream, "write" | "isTTY">;

/** Resolves with the write error (EPIPE when the reader went away), or null once written. */
function writeTo(stream: Writable, text: string): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    try {
      stream.write(text, (err) => resolve((err as NodeJS.ErrnoException | null | undefined) ?? null));
    } catch (e) {
      resolve(e as NodeJS.ErrnoException);
    }
  });
}

/** The process's streams as an Io. Errors on them (a closed pipe) never throw. */
export function createIo(json: boolean, stdout: Writable = process.stdout, stderr: Writable = process.stderr): Io {
  let stdoutGone = false;
  let stderrGone = false;
  const err = (text: string) => {
    if (!stderrGone) void writeTo(stderr, text).then((e) => (stderrGone ||= !!e));
  };
  return {
    async result(human, data, opts) {
      const text = json ? `${JSON.stringify(data)}\n` : `${human}\n`;
      const e = stdoutGone ? ({ code: "EPIPE" } as NodeJS.ErrnoException) : await writeTo(stdout, text);
      if (!e) return;
      stdoutGone = true;
      if (opts?.secret) {
        // Shown once: do not let a closed pipe swallow it.
        await writeTo(stderr, `stdout was closed (${e.code ?? e.message}); the result, which is shown only once, follows here:\n${text}`);
      }
    },
    progress(done, total, label) {
      if (!stderr.isTTY) return err(`[${done}/${total}] ${label}\n`);
      const width = 24;
      const filled = total ? Math.round((done / total) * width) : width;
      err(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} ${label.padEnd(40).slice(0, 40)}${done === total ? "\n" : ""}`);
    },
    note(text) {
      err(`${text}\n`);
    },
  };
}

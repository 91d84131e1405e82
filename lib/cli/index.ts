/**
 * The command line: `npm run --silent cli -- <command>` (docs/api.md, "Command line"). Runs
 * against the same DATA_DIR and configuration as the server and calls the same core use cases.
 * The commands are the rows of lib/cli/commands.ts (add one there; the usage text follows); the
 * runner, argument checks and output streams are lib/cli/run.ts. This file only wires them up.
 */
import { getEnv } from "../env";
import { AppError } from "../errors";
import { logToStderr } from "../log";
import type { Actor } from "../auth/actor";
import { createDeps, setDeps, type CoreDeps } from "../integrations";
import { COMMANDS } from "./commands";
import { createIo, parseCommandLine, usage, UsageError } from "./run";

const SYSTEM: Actor = { kind: "system", name: "cli" };

// stdout carries only the command's result. A reader that goes away (`| head`, `| jq` failing on
// its input) makes writes fail with EPIPE: that ends the output, not the run, and prints no stack.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
// Libraries that print with console.log/info/debug would land in the JSON: send them to stderr.
for (const level of ["log", "info", "debug"] as const) console[level] = (...a: unknown[]) => console.error(...a);

async function cli(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(COMMANDS, argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`error: ${e.message}\n\n${usage(COMMANDS)}\n`);
    return 2;
  }
  if (parsed === "help") {
    process.stdout.write(`${usage(COMMANDS)}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  const json = parsed.values.json === true;
  const io = createIo(json);
  let deps: CoreDeps | undefined;
  try {
    // Logs go to stderr (every logger of the process, not only the core's) so that --json output
    // on stdout stays machine-readable.
    deps = createDeps(getEnv(), { log: logToStderr() });
    setDeps(deps);
    const values = parsed.values;
    return await parsed.command.run({
      args: parsed.args,
      option: (name) => (typeof values[name] === "string" ? values[name] : undefined),
      flag: (name) => values[name] === true,
      json,
      deps,
      actor: SYSTEM,
      io,
    });
  } catch (e) {
    if (e instanceof UsageError) io.note(`error: ${e.message}\n\n${usage(COMMANDS)}`);
    else if (e instanceof AppError) io.note(`error (${e.code}): ${e.message}`);
    else io.note(`error: ${(e as Error)?.message ?? String(e)}`);
    return e instanceof UsageError ? 2 : 1;
  } finally {
    await deps?.store.close().catch(() => {});
    await deps?.auth.close().catch(() => {});
  }
}

void cli(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`error: ${(e as Error)?.message ?? String(e)}\n`);
    process.exitCode = 1;
  },
);

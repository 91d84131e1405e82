import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * No import cycles among the project's own modules (lib/, app/, actions/). A cycle makes load
 * order matter (a module sees another half-initialised) and means two layers depend on each
 * other; the composition root (lib/deps) exists so that lib/auth and lib/integrations do not.
 * Type-only imports count too: they still tie the two modules' designs together.
 */

const ROOT = path.resolve(__dirname, "..");
const DIRS = ["lib", "app", "actions"];
const EXTS = [".ts", ".tsx", ".mts", ".js", ".mjs"];

function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (EXTS.includes(path.extname(p)) && !/\.test\.tsx?$/.test(p)) out.push(p);
  }
  return out;
}

function resolveImport(from: string, spec: string): string | null {
  let base: string;
  if (spec.startsWith("@/")) base = path.join(ROOT, spec.slice(2));
  else if (spec.startsWith(".")) base = path.resolve(path.dirname(from), spec);
  else return null; // a package
  for (const candidate of [base, ...EXTS.map((e) => base + e), ...EXTS.map((e) => path.join(base, `index${e}`))]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  return null;
}

/** Static imports and re-exports (`import … from`, `export … from`, `import "x"`, `import("x")`). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\s[^'"]*?\sfrom\s*["']([^"']+)["']/gm),
    ...text.matchAll(/^\s*import\s*["']([^"']+)["']/gm),
    ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
  ].map((m) => m[1]!);
  return [...new Set(specs.map((s) => resolveImport(file, s)).filter((p): p is string => p !== null))];
}

/** Every elementary cycle's smallest representative found by DFS (Tarjan's SCCs, then one cycle per SCC). */
function findCycles(files: string[]): string[][] {
  const known = new Set(files);
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((d) => known.has(d))]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const sccs: string[][] = [];
  let i = 0;
  const strong = (v: string) => {
    index.set(v, i);
    low.set(v, i++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) sccs.push(scc);
    }
  };
  for (const f of files) if (!index.has(f)) strong(f);
  // One concrete cycle per strongly connected component, for the message.
  return sccs.map((scc) => {
    const inScc = new Set(scc);
    const start = [...scc].sort()[0]!;
    const prev = new Map<string, string>();
    const queue = [start];
    const seen = new Set([start]);
    while (queue.length) {
      const v = queue.shift()!;
      for (const w of graph.get(v) ?? []) {
        if (!inScc.has(w)) continue;
        if (w === start) {
          const cycle = [v];
          while (cycle[0] !== start) cycle.unshift(prev.get(cycle[0]!)!);
          return [...cycle, start];
        }
        if (!seen.has(w)) {
          seen.add(w);
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    return scc;
  });
}

describe("imports", () => {
  it("finds a cycle when there is one (the detector works)", () => {
    const dir = fs.mkdtempSync(path.join(ROOT, "node_modules", ".cycle-probe-"));
    try {
      fs.writeFileSync(path.join(dir, "a.ts"), 'import { b } from "./b";\nexport const a = () => b;\n');
      fs.writeFileSync(path.join(dir, "b.ts"), 'import type { C } from "./c";\nexport const b = 1 as unknown as C;\n');
      fs.writeFileSync(path.join(dir, "c.ts"), 'export { a } from "./a";\nexport type C = number;\n');
      fs.writeFileSync(path.join(dir, "d.ts"), 'import "./a";\n');
      const cycles = findCycles(["a.ts", "b.ts", "c.ts", "d.ts"].map((f) => path.join(dir, f)));
      expect(cycles.map((c) => c.map((f) => path.basename(f)))).toEqual([["a.ts", "b.ts", "c.ts", "a.ts"]]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lib/auth imports nothing from lib/integrations: the composition root lib/deps wires them", () => {
    const integrations = path.join(ROOT, "lib", "integrations") + path.sep;
    const bad = walk(path.join(ROOT, "lib", "auth")).flatMap((f) =>
      importsOf(f)
        .filter((d) => d.startsWith(integrations))
        .map((d) => `${path.relative(ROOT, f)} → ${path.relative(ROOT, d)}`),
    );
    expect(bad).toEqual([]);
    expect(fs.existsSync(path.join(ROOT, "lib", "integrations", "deps.ts"))).toBe(false);
  });

  it("has no cycles among lib/, app/ and actions/", () => {
    const files = DIRS.flatMap((d) => walk(path.join(ROOT, d)));
    expect(files.length).toBeGreaterThan(100);
    const cycles = findCycles(files).map((c) => c.map((f) => path.relative(ROOT, f)).join(" → "));
    expect(cycles).toEqual([]);
  });
});

import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ENDPOINT_ENV_VARS } from "./integrations/registry-schema";

/**
 * Every document the repository points at is in the repository: comments and strings in code cite
 * `docs/…` files (and, with `, "Section"` or `#anchor`, a heading that exists), never documents a
 * clone does not contain; links and file paths in the docs resolve; and docs/operations.md lists
 * every variable lib/env.ts reads.
 */

const ROOT = path.resolve(__dirname, "..");
const SELF = path.relative(ROOT, __filename);
const CODE_DIRS = ["lib", "app", "actions", "tests", "configs"];
const CODE_FILE = /\.(ts|tsx|mjs|js|cjs|sh|yml|yaml|css)$/;
const ROOT_CODE = ["next.config.ts", "playwright.config.ts", "vitest.config.ts", "eslint.config.mjs", "postcss.config.mjs", "package.json"];
const SKIP_DIRS = new Set(["node_modules", ".next", "test-results", "playwright-report", "screenshots", ".data"]);

function walk(dir: string, keep: (f: string) => boolean, out: string[] = []): string[] {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(e.name)) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, keep, out);
    else if (keep(p)) out.push(p);
  }
  return out;
}

const rel = (p: string) => path.relative(ROOT, p);
const withoutUrls = (text: string) => text.replace(/\bhttps?:\/\/[^\s)"'`>\]]+/g, "");

/** GitHub's heading anchors: lower case, punctuation dropped, spaces → hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

const headingCache = new Map<string, string[]>();
function headings(file: string): string[] {
  let h = headingCache.get(file);
  if (!h) {
    const text = fs.readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
    h = [...text.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)].map((m) => m[1]!.replace(/`/g, ""));
    headingCache.set(file, h);
  }
  return h;
}

function hasAnchor(file: string, anchor: string): boolean {
  return headings(file).some((h) => slug(h) === anchor.toLowerCase());
}

function hasSection(file: string, section: string): boolean {
  const want = section.toLowerCase().replace(/`/g, "");
  return headings(file).some((h) => h.toLowerCase().includes(want));
}

// Documents that live outside the repository (the design notes the project started from): built
// from parts so that this file does not cite them itself.
const OUTSIDE = new RegExp(
  `(?<![\\w/.-])(?:${["API", "DESIGN", "STYLE", "providers", "security-storage", "toolchain"].map((n) => `${n}\\.md`).join("|")})\\b|\\.\\./${"shared"}\\b`,
  "g",
);
const REPO_DOC = /(?<![\w/.-])((?:docs\/[\w./-]+?\.md)|README\.md|CONTRIBUTING\.md)(#[\w-]+)?(?:,\s*"([^"\n]+)")?/g;

describe("document references", () => {
  const codeFiles = [
    ...CODE_DIRS.flatMap((d) => walk(path.join(ROOT, d), (f) => CODE_FILE.test(f))),
    ...ROOT_CODE.map((f) => path.join(ROOT, f)).filter((f) => fs.existsSync(f)),
  ].filter((f) => rel(f) !== SELF);

  it("code cites no document outside the repository", () => {
    const bad: string[] = [];
    for (const f of codeFiles) {
      const lines = withoutUrls(fs.readFileSync(f, "utf8")).split("\n");
      lines.forEach((line, i) => {
        for (const m of line.matchAll(OUTSIDE)) bad.push(`${rel(f)}:${i + 1}: ${m[0]}`);
      });
    }
    expect(bad).toEqual([]);
  });

  it("every docs/… reference in code resolves: the file, and the section or anchor it names", () => {
    const bad: string[] = [];
    let seen = 0;
    for (const f of codeFiles) {
      const lines = withoutUrls(fs.readFileSync(f, "utf8")).split("\n");
      lines.forEach((line, i) => {
        for (const m of line.matchAll(REPO_DOC)) {
          seen++;
          const [, doc, anchor, section] = m;
          const target = path.join(ROOT, doc!);
          const where = `${rel(f)}:${i + 1}: ${m[0]}`;
          if (!fs.existsSync(target)) bad.push(`${where} (no such file)`);
          else if (anchor && !hasAnchor(target, anchor.slice(1))) bad.push(`${where} (no heading ${anchor})`);
          else if (section && !hasSection(target, section)) bad.push(`${where} (no heading "${section}")`);
        }
      });
    }
    expect(seen).toBeGreaterThan(10);
    expect(bad).toEqual([]);
  });

  it("links and file paths in the docs resolve inside the repository", () => {
    const docs = [...walk(path.join(ROOT, "docs"), (f) => f.endsWith(".md")), path.join(ROOT, "CONTRIBUTING.md")];
    const bad: string[] = [];
    for (const f of [...docs, path.join(ROOT, "README.md")]) {
      const text = fs.readFileSync(f, "utf8");
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1]!;
        if (/^(https?:|mailto:)/.test(link)) continue;
        const [file, anchor] = link.split("#");
        const target = file ? path.resolve(path.dirname(f), file) : f;
        if (!fs.existsSync(target)) bad.push(`${rel(f)}: link ${link} (no such file)`);
        else if (anchor && target.endsWith(".md") && !hasAnchor(target, anchor)) bad.push(`${rel(f)}: link ${link} (no such heading)`);
      }
      if (!docs.includes(f)) continue; // README.md: its links only
      for (const m of text.matchAll(/`((?:lib|app|actions|tests|configs|docs)\/[^`\s]*)`/g)) {
        const p = m[1]!.replace(/[.,:;]+$/, "");
        if (/[<>…*{}|]/.test(p)) continue; // a pattern (lib/storage/<backend>.ts), not a path
        if (!fs.existsSync(path.join(ROOT, p))) bad.push(`${rel(f)}: path ${p} (no such file)`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("every decision record is numbered once and listed in docs/decisions/README.md", () => {
    const dir = path.join(ROOT, "docs/decisions");
    const records = fs.readdirSync(dir).filter((f) => f !== "README.md");
    expect(records.every((f) => /^\d{3}-[a-z0-9-]+\.md$/.test(f)), records.join(", ")).toBe(true);
    const numbers = records.map((f) => f.slice(0, 3));
    expect(new Set(numbers).size).toBe(numbers.length);
    const index = fs.readFileSync(path.join(dir, "README.md"), "utf8");
    expect(records.filter((f) => !index.includes(`](${f})`))).toEqual([]);
  });

  it("docs/operations.md documents every variable lib/env.ts reads", () => {
    const env = fs.readFileSync(path.join(ROOT, "lib/env.ts"), "utf8");
    const schema = env.slice(env.indexOf("const EnvSchema"), env.indexOf("export type Env"));
    const names = [...schema.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!);
    expect(names).toContain("DATA_DIR");
    const ops = fs.readFileSync(path.join(ROOT, "docs/operations.md"), "utf8");
    const missing = [...names, ...ENDPOINT_ENV_VARS].filter((n) => !ops.includes(`\`${n}\``));
    expect(missing).toEqual([]);
  });
});

import fs from "node:fs";
import path from "node:path";
import { FAKE_OPENAI_ADMIN_KEY } from "../fakes/keys";
import { test, expect, CANARIES_FILE, PAGES_DIR, ROOT } from "./fixtures";

/**
 * Runs after the UI specs (project dependency): neither the provider key the specs typed nor any
 * canary secret may appear in the built client chunks or in any HTML / RSC payload / DOM snapshot
 * the browser received during the run.
 */

function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

const secrets = () => {
  const canaries = fs.existsSync(CANARIES_FILE) ? fs.readFileSync(CANARIES_FILE, "utf8").split("\n").filter(Boolean) : [];
  return [FAKE_OPENAI_ADMIN_KEY, ...canaries];
};

test("no secret typed into a form reaches a page, an RSC payload or a client chunk", () => {
  const list = secrets();
  expect(list.length, "the onboarding spec records at least one canary").toBeGreaterThan(1);

  const pages = fs.existsSync(PAGES_DIR) ? walk(PAGES_DIR) : [];
  expect(pages.length, "the UI specs recorded the pages they loaded").toBeGreaterThan(20);
  const chunks = walk(path.join(ROOT, ".next", "static")).filter((f) => f.endsWith(".js"));
  expect(chunks.length).toBeGreaterThan(5);

  const leaks: string[] = [];
  for (const f of [...pages, ...chunks]) {
    const text = fs.readFileSync(f, "utf8");
    for (const s of list) if (text.includes(s)) leaks.push(`${path.relative(ROOT, f)} contains ${s.slice(0, 12)}…`);
  }
  expect(leaks).toEqual([]);
});

/**
 * `npm run docs:api`: rewrite the generated sections of docs/api.md (routes from the OpenAPI
 * document, the error table, the credential fields) from the code. lib/http/api-doc.test.ts fails
 * when they are out of date.
 */
import fs from "node:fs";
import path from "node:path";
import { regenerateApiDoc } from "../http/api-doc";

const file = path.join(__dirname, "..", "..", "docs", "api.md");
const before = fs.readFileSync(file, "utf8");
const after = regenerateApiDoc(before);
if (after !== before) fs.writeFileSync(file, after);
process.stdout.write(after === before ? "docs/api.md is up to date\n" : "docs/api.md regenerated\n");

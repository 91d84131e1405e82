import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A local fake of the BigQuery REST API (v2), enough for the credential store and its tests.
 *
 * It serves what `@google-cloud/bigquery` 8 calls: datasets get/insert, tables get/insert,
 * jobs.query (`POST …/queries`), jobs.insert (`POST …/jobs`), jobs.get (`GET …/jobs/{id}`) and
 * jobs.getQueryResults (`GET …/queries/{id}`), under both `/bigquery/v2/projects/…` and
 * `/projects/…` (the `BIGQUERY_EMULATOR_HOST` form). `…/insertAll` (streaming) is recorded and
 * refused, so tests can assert it is never called.
 *
 * Queries are parsed by a small GoogleSQL subset interpreter (SELECT / UPDATE / DELETE / MERGE over
 * one table, boolean WHERE/ON conditions with =, !=, <, >, <=, >=, IS [NOT] NULL, AND, OR, NOT,
 * ORDER BY, LIMIT) and evaluated against in-memory tables with the named query parameters, with
 * BigQuery's typing rules where they matter: every parameter needs a type, a NULL parameter is still
 * typed, values must match the column type, REQUIRED columns reject NULL, JSON is not comparable.
 * Results are encoded like BigQuery encodes them: INT64 as decimal strings, TIMESTAMP as int64
 * microseconds when `formatOptions.useInt64Timestamp` is set (what the Node client asks for) and
 * float seconds otherwise, BYTES as base64, JSON as text (keys sorted, as BigQuery normalises),
 * NULL as null.
 *
 * Each statement runs atomically (the handler is synchronous), like a BigQuery DML statement.
 */

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

export type BigQueryFault =
  /** 400 "Could not serialize access to table … due to concurrent update" (nothing applied). */
  | "concurrentUpdate"
  /** 403 quotaExceeded "Quota exceeded: Your table exceeded quota for number of DML statements…" */
  | "dmlQuota"
  /** 403 rateLimitExceeded "Exceeded rate limits: too many DML statements…" */
  | "rateLimit"
  /** 500 backendError. */
  | "backendError"
  /** 503 UNAVAILABLE. */
  | "unavailable"
  /** 400 "UPDATE or DELETE statement over table … would affect rows in the streaming buffer…" */
  | "streamingBuffer"
  /** Never answer (until close()). */
  | "hang"
  /** Destroy the connection without an answer (nothing applied). */
  | "drop"
  /** Apply the statement, then destroy the connection: the client cannot know it committed. */
  | "commitThenDrop"
  /** Apply the statement but answer jobs.query with `jobComplete: false`; getQueryResults then has the result. */
  | "incomplete";

/** Which requests a fault applies to. */
export type BigQueryFaultTarget =
  /** jobs.query and jobs.insert (default). */
  | "query"
  /** Only queries whose statement is MERGE / UPDATE / DELETE / INSERT. */
  | "dml"
  /** Only SELECT queries. */
  | "select"
  /** Any request (datasets, tables, jobs, …). */
  | "any";

export interface BigQueryFakeRequest {
  method: string;
  /** Path and query string as received. */
  path: string;
  /** Path without the query string. */
  pathname: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON body (null when empty or not JSON). */
  body: unknown;
  rawBody: string;
  at: number;
}

/** A query as sent to jobs.query or jobs.insert. */
export interface BigQueryFakeQuery {
  api: "jobs.query" | "jobs.insert";
  query: string;
  parameterMode: string | undefined;
  queryParameters: Array<{
    name?: string;
    parameterType?: { type?: string };
    parameterValue?: { value?: unknown };
  }>;
  location: string | undefined;
}

/**
 * A stored row, decoded: STRING → string, INT64 → number, BYTES → Buffer, TIMESTAMP → ISO string
 * (microsecond precision when present), JSON → its JSON text, BOOL → boolean, NULL → null.
 */
export type BigQueryFakeRow = Record<string, string | number | boolean | Buffer | null>;

export interface BigQueryFakeOptions {
  port?: number;
  host?: string;
}

export interface BigQueryFakeFieldSchema {
  name: string;
  type: string;
  mode: string;
}

export interface BigQueryFakeTableInfo {
  projectId: string;
  datasetId: string;
  tableId: string;
  schema: BigQueryFakeFieldSchema[];
  clustering: string[] | null;
  /** The tables.insert body as received. */
  resource: unknown;
}

export interface BigQueryFakeDatasetInfo {
  projectId: string;
  datasetId: string;
  location: string;
  /** The datasets.insert body as received. */
  resource: unknown;
}

export interface BigQueryFake {
  /** Origin, e.g. "http://127.0.0.1:41234", for the client's `apiEndpoint`. */
  url: string;
  port: number;
  /** Every request received, oldest first. */
  requests: BigQueryFakeRequest[];
  /** The queries received through jobs.query and jobs.insert, oldest first. */
  queries(): BigQueryFakeQuery[];
  /** Rows of a table ("dataset.table" or "table"; default: the only table), as copies. */
  rows(table?: string): BigQueryFakeRow[];
  datasets(): BigQueryFakeDatasetInfo[];
  tables(): BigQueryFakeTableInfo[];
  /** Makes the next `times` (default 1) matching requests fail with `fault`. Faults queue in order. */
  inject(fault: BigQueryFault, times?: number, target?: BigQueryFaultTarget): void;
  /** Faults still queued (count of remaining applications). */
  pendingFaults(): number;
  clearFaults(): void;
  clearRequests(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Types and values
// ---------------------------------------------------------------------------------------------

type ColType = "STRING" | "INT64" | "BYTES" | "TIMESTAMP" | "JSON" | "BOOL" | "FLOAT64";
/** Internal value representation; null is SQL NULL. */
type Raw = string | bigint | Buffer | boolean | number | null;

interface Field {
  name: string;
  type: ColType;
  mode: "NULLABLE" | "REQUIRED";
}

interface TableState {
  projectId: string;
  datasetId: string;
  tableId: string;
  fields: Field[];
  clustering: string[] | null;
  rows: Array<Record<string, Raw>>;
  resource: unknown;
  created: number;
}

interface DatasetState {
  projectId: string;
  datasetId: string;
  location: string;
  resource: Record<string, unknown>;
  created: number;
}

interface Param {
  type: ColType;
  value: Raw;
}

class BqError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string,
    readonly grpcStatus: string,
  ) {
    super(message);
  }
}

const invalid = (message: string): BqError => new BqError(400, message, "invalidQuery", "INVALID_ARGUMENT");
const notFound = (message: string): BqError => new BqError(404, message, "notFound", "NOT_FOUND");

function normaliseType(t: unknown): ColType {
  const s = String(t ?? "").toUpperCase();
  switch (s) {
    case "STRING":
      return "STRING";
    case "INT64":
    case "INTEGER":
    case "INT":
    case "BIGINT":
    case "SMALLINT":
    case "TINYINT":
    case "BYTEINT":
      return "INT64";
    case "BYTES":
      return "BYTES";
    case "TIMESTAMP":
      return "TIMESTAMP";
    case "JSON":
      return "JSON";
    case "BOOL":
    case "BOOLEAN":
      return "BOOL";
    case "FLOAT64":
    case "FLOAT":
      return "FLOAT64";
    default:
      throw invalid(`Unsupported type in this fake: ${s || "(none)"}`);
  }
}

/** JSON text with object keys sorted, as BigQuery's JSON type normalises it. */
function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v as object).sort()) out[k] = sort((v as Record<string, unknown>)[k]);
      return out;
    }
    return v;
  };
  return JSON.stringify(sort(value));
}

const TS_RE =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

function parseTimestamp(text: string): bigint {
  const m = TS_RE.exec(text.trim());
  if (!m) throw invalid(`Invalid TIMESTAMP value: parameter cannot be parsed as a timestamp`);
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", tz = "Z"] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) throw invalid("Invalid TIMESTAMP value");
  let micros = BigInt(ms) * 1000n + BigInt((frac + "000000").slice(0, 6));
  if (!/^(Z|UTC)$/i.test(tz)) {
    const tm = /^([+-])(\d{2}):?(\d{2})?$/.exec(tz);
    if (!tm) throw invalid("Invalid TIMESTAMP time zone");
    const offset = (BigInt(Number(tm[2]) * 60 + Number(tm[3] ?? "0")) * 60_000_000n) * (tm[1] === "-" ? -1n : 1n);
    micros -= offset;
  }
  return micros;
}

function microsToIso(micros: bigint): string {
  const ms = micros / 1000n;
  const rem = Number(micros % 1000n);
  const iso = new Date(Number(ms)).toISOString();
  if (rem === 0) return iso;
  return `${iso.slice(0, -1)}${String(rem).padStart(3, "0")}Z`;
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes a query parameter value of the given type (the REST encoding: strings). */
function decodeParamValue(type: ColType, value: unknown, name: string): Raw {
  if (value === null || value === undefined) return null;
  const bad = (): BqError => invalid(`Invalid value for query parameter @${name} of type ${type}`);
  switch (type) {
    case "STRING":
      if (typeof value !== "string") throw bad();
      return value;
    case "INT64": {
      const s = typeof value === "number" && Number.isInteger(value) ? String(value) : value;
      if (typeof s !== "string" || !/^-?\d+$/.test(s)) throw bad();
      return BigInt(s);
    }
    case "FLOAT64": {
      const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : NaN;
      if (Number.isNaN(n)) throw bad();
      return n;
    }
    case "BYTES":
      // BigQuery expects base64 text; anything else (e.g. a JSON-serialised Buffer) is an error.
      if (typeof value !== "string" || !BASE64_RE.test(value)) throw bad();
      return Buffer.from(value, "base64");
    case "TIMESTAMP":
      if (typeof value !== "string") throw bad();
      return parseTimestamp(value);
    case "JSON": {
      if (typeof value !== "string") throw bad();
      try {
        return canonicalJson(JSON.parse(value));
      } catch {
        throw invalid(`Invalid JSON value for query parameter @${name}`);
      }
    }
    case "BOOL":
      if (value === true || value === "true" || value === "TRUE") return true;
      if (value === false || value === "false" || value === "FALSE") return false;
      throw bad();
  }
}

/** Encodes a cell for the `rows[].f[].v` REST encoding. */
function encodeCell(type: ColType, value: Raw, int64Timestamps: boolean): string | null {
  if (value === null) return null;
  switch (type) {
    case "BYTES":
      return (value as Buffer).toString("base64");
    case "TIMESTAMP": {
      const micros = value as bigint;
      if (int64Timestamps) return micros.toString();
      const neg = micros < 0n;
      const abs = neg ? -micros : micros;
      const secs = abs / 1_000_000n;
      const frac = (abs % 1_000_000n).toString().padStart(6, "0").replace(/0+$/, "");
      return `${neg ? "-" : ""}${secs}${frac ? `.${frac}` : ".0"}`;
    }
    case "BOOL":
      return value ? "true" : "false";
    default:
      return String(value);
  }
}

function decodeForRows(type: ColType, value: Raw): string | number | boolean | Buffer | null {
  if (value === null) return null;
  switch (type) {
    case "INT64":
      return Number(value as bigint);
    case "BYTES":
      return Buffer.from(value as Buffer);
    case "TIMESTAMP":
      return microsToIso(value as bigint);
    default:
      return value as string | number | boolean;
  }
}

/** GoogleSQL STRING ordering: by UTF-8 bytes. */
function compareRaw(type: ColType, a: Raw, b: Raw): number {
  if (a === null || b === null) {
    // NULLs first in ascending order.
    if (a === null && b === null) return 0;
    return a === null ? -1 : 1;
  }
  switch (type) {
    case "STRING":
      return Buffer.compare(Buffer.from(a as string, "utf8"), Buffer.from(b as string, "utf8"));
    case "BYTES":
      return Buffer.compare(a as Buffer, b as Buffer);
    case "INT64":
    case "TIMESTAMP":
      return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0;
    case "FLOAT64":
      return (a as number) - (b as number);
    case "BOOL":
      return Number(a) - Number(b);
    case "JSON":
      throw invalid("Ordering by expressions of type JSON is not allowed");
  }
}

// ---------------------------------------------------------------------------------------------
// SQL: tokenizer and parser for the subset
// ---------------------------------------------------------------------------------------------

type Token =
  | { k: "ident"; v: string; quoted: boolean }
  | { k: "param"; v: string }
  | { k: "num"; v: string }
  | { k: "str"; v: string }
  | { k: "op"; v: string }
  | { k: "eof" };

function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "-" && sql[i + 1] === "-") {
      while (i < sql.length && sql[i] !== "\n") i++;
      continue;
    }
    if (c === "`") {
      const end = sql.indexOf("`", i + 1);
      if (end < 0) throw invalid("Syntax error: Unclosed identifier literal");
      out.push({ k: "ident", v: sql.slice(i + 1, end), quoted: true });
      i = end + 1;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      let s = "";
      while (j < sql.length && sql[j] !== c) {
        if (sql[j] === "\\") {
          s += sql[j + 1] ?? "";
          j += 2;
        } else s += sql[j++];
      }
      if (j >= sql.length) throw invalid("Syntax error: Unclosed string literal");
      out.push({ k: "str", v: s });
      i = j + 1;
      continue;
    }
    if (c === "@") {
      const m = /^@([A-Za-z_][A-Za-z0-9_]*)/.exec(sql.slice(i));
      if (!m) throw invalid("Syntax error: Unexpected @");
      out.push({ k: "param", v: m[1]! });
      i += m[0].length;
      continue;
    }
    const num = /^\d+/.exec(sql.slice(i));
    if (num) {
      out.push({ k: "num", v: num[0] });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i));
    if (id) {
      out.push({ k: "ident", v: id[0], quoted: false });
      i += id[0].length;
      continue;
    }
    const op = /^(<>|!=|<=|>=|[=<>(),.*;])/.exec(sql.slice(i));
    if (op) {
      out.push({ k: "op", v: op[0] });
      i += op[0].length;
      continue;
    }
    throw invalid(`Syntax error: Unexpected character "${c}"`);
  }
  out.push({ k: "eof" });
  return out;
}

type Operand =
  | { k: "col"; qualifier: string | null; name: string }
  | { k: "param"; name: string }
  | { k: "lit"; type: ColType | "NULL"; value: Raw };

type Expr =
  | { k: "and" | "or"; a: Expr; b: Expr }
  | { k: "not"; a: Expr }
  | { k: "cmp"; op: string; a: Operand; b: Operand }
  | { k: "isnull"; a: Operand; negate: boolean }
  | { k: "bool"; a: Operand };

interface TableRef {
  parts: string[];
  alias: string | null;
}

type Statement =
  | {
      k: "select";
      columns: Array<{ expr: Operand; as: string }>;
      star: boolean;
      from: TableRef | null;
      where: Expr | null;
      orderBy: Array<{ col: Operand; desc: boolean }>;
      limit: Operand | null;
    }
  | { k: "update"; table: TableRef; set: Array<{ col: string; value: Operand }>; where: Expr }
  | { k: "delete"; table: TableRef; where: Expr }
  | { k: "insert"; table: TableRef; cols: string[]; values: Operand[] }
  | {
      k: "merge";
      target: TableRef;
      source: { alias: string; cols: Array<{ name: string; value: Operand }> };
      on: Expr;
      clauses: MergeClause[];
    };

type MergeClause =
  | { when: "matched"; cond: Expr | null; action: { k: "update"; set: Array<{ col: string; value: Operand }> } | { k: "delete" } }
  | { when: "notMatched"; cond: Expr | null; action: { k: "insert"; cols: string[]; values: Operand[] } };

const RESERVED = new Set([
  "SELECT", "FROM", "WHERE", "ORDER", "BY", "LIMIT", "AND", "OR", "NOT", "IS", "NULL", "AS", "UPDATE", "SET",
  "DELETE", "MERGE", "USING", "ON", "WHEN", "MATCHED", "THEN", "INSERT", "INTO", "VALUES", "ASC", "DESC", "TRUE",
  "FALSE",
]);

class Parser {
  private i = 0;
  constructor(private readonly t: Token[]) {}

  private peek(offset = 0): Token {
    return this.t[Math.min(this.i + offset, this.t.length - 1)]!;
  }
  private next(): Token {
    return this.t[this.i++] ?? { k: "eof" };
  }
  private isKw(word: string, offset = 0): boolean {
    const tok = this.peek(offset);
    return tok.k === "ident" && !tok.quoted && tok.v.toUpperCase() === word;
  }
  private kw(word: string): void {
    if (!this.isKw(word)) throw invalid(`Syntax error: Expected keyword ${word}`);
    this.i++;
  }
  private acceptKw(word: string): boolean {
    if (this.isKw(word)) {
      this.i++;
      return true;
    }
    return false;
  }
  private isOp(op: string): boolean {
    const tok = this.peek();
    return tok.k === "op" && tok.v === op;
  }
  private op(op: string): void {
    if (!this.isOp(op)) throw invalid(`Syntax error: Expected "${op}"`);
    this.i++;
  }
  private acceptOp(op: string): boolean {
    if (this.isOp(op)) {
      this.i++;
      return true;
    }
    return false;
  }
  private name(): string {
    const tok = this.next();
    if (tok.k !== "ident" || (!tok.quoted && RESERVED.has(tok.v.toUpperCase()))) {
      throw invalid("Syntax error: Expected an identifier");
    }
    return tok.v;
  }

  parse(): Statement {
    let st: Statement;
    if (this.isKw("SELECT")) st = this.select();
    else if (this.isKw("UPDATE")) st = this.update();
    else if (this.isKw("DELETE")) st = this.delete();
    else if (this.isKw("MERGE")) st = this.merge();
    else if (this.isKw("INSERT")) st = this.insert();
    else throw invalid("Syntax error: Unsupported statement in this fake");
    this.acceptOp(";");
    if (this.peek().k !== "eof") throw invalid("Syntax error: Unexpected trailing input");
    return st;
  }

  private tableRef(allowAlias: boolean): TableRef {
    const parts: string[] = [];
    const first = this.next();
    if (first.k !== "ident") throw invalid("Syntax error: Expected a table name");
    parts.push(...(first.quoted ? first.v.split(".") : [first.v]));
    while (this.acceptOp(".")) {
      const tok = this.next();
      if (tok.k !== "ident") throw invalid("Syntax error: Expected a table name");
      parts.push(...(tok.quoted ? tok.v.split(".") : [tok.v]));
    }
    let alias: string | null = null;
    if (allowAlias) {
      if (this.acceptKw("AS")) alias = this.name();
      else if (this.peek().k === "ident" && !RESERVED.has((this.peek() as { v: string }).v.toUpperCase())) {
        alias = this.name();
      }
    }
    return { parts, alias };
  }

  private operand(): Operand {
    const tok = this.next();
    if (tok.k === "param") return { k: "param", name: tok.v };
    if (tok.k === "num") return { k: "lit", type: "INT64", value: BigInt(tok.v) };
    if (tok.k === "str") return { k: "lit", type: "STRING", value: tok.v };
    if (tok.k === "ident") {
      const up = tok.v.toUpperCase();
      if (!tok.quoted && up === "NULL") return { k: "lit", type: "NULL", value: null };
      if (!tok.quoted && (up === "TRUE" || up === "FALSE")) return { k: "lit", type: "BOOL", value: up === "TRUE" };
      if (!tok.quoted && RESERVED.has(up)) throw invalid(`Syntax error: Unexpected keyword ${up}`);
      if (this.acceptOp(".")) return { k: "col", qualifier: tok.v, name: this.name() };
      return { k: "col", qualifier: null, name: tok.v };
    }
    throw invalid("Syntax error: Expected an expression");
  }

  private expr(): Expr {
    let a = this.andExpr();
    while (this.acceptKw("OR")) a = { k: "or", a, b: this.andExpr() };
    return a;
  }
  private andExpr(): Expr {
    let a = this.notExpr();
    while (this.acceptKw("AND")) a = { k: "and", a, b: this.notExpr() };
    return a;
  }
  private notExpr(): Expr {
    if (this.acceptKw("NOT")) return { k: "not", a: this.notExpr() };
    return this.primary();
  }
  private primary(): Expr {
    if (this.acceptOp("(")) {
      const e = this.expr();
      this.op(")");
      return e;
    }
    const a = this.operand();
    if (this.acceptKw("IS")) {
      const negate = this.acceptKw("NOT");
      this.kw("NULL");
      return { k: "isnull", a, negate };
    }
    const tok = this.peek();
    if (tok.k === "op" && ["=", "!=", "<>", "<", ">", "<=", ">="].includes(tok.v)) {
      this.i++;
      return { k: "cmp", op: tok.v === "<>" ? "!=" : tok.v, a, b: this.operand() };
    }
    return { k: "bool", a };
  }

  private setList(): Array<{ col: string; value: Operand }> {
    const set: Array<{ col: string; value: Operand }> = [];
    do {
      const col = this.name();
      this.op("=");
      set.push({ col, value: this.operand() });
    } while (this.acceptOp(","));
    return set;
  }

  private insertTail(): { cols: string[]; values: Operand[] } {
    this.op("(");
    const cols: string[] = [];
    do cols.push(this.name());
    while (this.acceptOp(","));
    this.op(")");
    this.kw("VALUES");
    this.op("(");
    const values: Operand[] = [];
    do values.push(this.operand());
    while (this.acceptOp(","));
    this.op(")");
    if (cols.length !== values.length) throw invalid("Inserted row has wrong column count");
    return { cols, values };
  }

  private select(): Statement {
    this.kw("SELECT");
    const columns: Array<{ expr: Operand; as: string }> = [];
    let star = false;
    if (this.acceptOp("*")) star = true;
    else {
      do {
        const expr = this.operand();
        let as: string;
        if (this.acceptKw("AS")) as = this.name();
        else if (expr.k === "col") as = expr.name;
        else as = `f${columns.length}_`;
        columns.push({ expr, as });
      } while (this.acceptOp(","));
    }
    let from: TableRef | null = null;
    if (this.acceptKw("FROM")) from = this.tableRef(true);
    let where: Expr | null = null;
    if (this.acceptKw("WHERE")) where = this.expr();
    const orderBy: Array<{ col: Operand; desc: boolean }> = [];
    if (this.acceptKw("ORDER")) {
      this.kw("BY");
      do {
        const col = this.operand();
        const desc = this.acceptKw("DESC");
        if (!desc) this.acceptKw("ASC");
        orderBy.push({ col, desc });
      } while (this.acceptOp(","));
    }
    let limit: Operand | null = null;
    if (this.acceptKw("LIMIT")) limit = this.operand();
    return { k: "select", columns, star, from, where, orderBy, limit };
  }

  private update(): Statement {
    this.kw("UPDATE");
    const table = this.tableRef(true);
    this.kw("SET");
    const set = this.setList();
    // GoogleSQL requires a WHERE clause on UPDATE.
    if (!this.acceptKw("WHERE")) throw invalid("UPDATE must have a WHERE clause");
    return { k: "update", table, set, where: this.expr() };
  }

  private delete(): Statement {
    this.kw("DELETE");
    this.acceptKw("FROM");
    const table = this.tableRef(true);
    if (!this.acceptKw("WHERE")) throw invalid("DELETE must have a WHERE clause");
    return { k: "delete", table, where: this.expr() };
  }

  private insert(): Statement {
    this.kw("INSERT");
    this.acceptKw("INTO");
    const table = this.tableRef(false);
    return { k: "insert", table, ...this.insertTail() };
  }

  private merge(): Statement {
    this.kw("MERGE");
    this.acceptKw("INTO");
    const target = this.tableRef(true);
    this.kw("USING");
    this.op("(");
    this.kw("SELECT");
    const cols: Array<{ name: string; value: Operand }> = [];
    do {
      const value = this.operand();
      this.kw("AS");
      cols.push({ name: this.name(), value });
    } while (this.acceptOp(","));
    this.op(")");
    this.acceptKw("AS");
    const alias = this.name();
    this.kw("ON");
    const on = this.expr();
    const clauses: MergeClause[] = [];
    while (this.acceptKw("WHEN")) {
      const negated = this.acceptKw("NOT");
      this.kw("MATCHED");
      if (negated && this.acceptKw("BY")) this.kw("TARGET");
      const cond = this.acceptKw("AND") ? this.expr() : null;
      this.kw("THEN");
      if (!negated) {
        if (this.acceptKw("UPDATE")) {
          this.kw("SET");
          clauses.push({ when: "matched", cond, action: { k: "update", set: this.setList() } });
        } else {
          this.kw("DELETE");
          clauses.push({ when: "matched", cond, action: { k: "delete" } });
        }
      } else {
        this.kw("INSERT");
        clauses.push({ when: "notMatched", cond, action: { k: "insert", ...this.insertTail() } });
      }
    }
    if (clauses.length === 0) throw invalid("MERGE must have at least one WHEN clause");
    return { k: "merge", target, source: { alias, cols }, on, clauses };
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

interface Scope {
  /** alias (lower case) → row and fields; the first scope with no qualifier match wins for bare names. */
  sources: Array<{ alias: string | null; tableName: string | null; fields: Field[]; row: Record<string, Raw> | null }>;
  params: Map<string, Param>;
}

type Typed = { type: ColType | "NULL"; value: Raw };

function resolveOperand(o: Operand, scope: Scope): Typed {
  switch (o.k) {
    case "lit":
      return { type: o.type, value: o.value };
    case "param": {
      const p = scope.params.get(o.name);
      if (!p) throw invalid(`Query parameter '${o.name}' not found`);
      return { type: p.type, value: p.value };
    }
    case "col": {
      const q = o.qualifier?.toLowerCase() ?? null;
      const candidates = scope.sources.filter(
        (s) => q === null || s.alias?.toLowerCase() === q || s.tableName?.toLowerCase() === q,
      );
      for (const s of candidates) {
        const f = s.fields.find((x) => x.name.toLowerCase() === o.name.toLowerCase());
        if (f) return { type: f.type, value: s.row ? (s.row[f.name] ?? null) : null };
      }
      throw invalid(`Unrecognized name: ${o.qualifier ? `${o.qualifier}.` : ""}${o.name}`);
    }
  }
}

function checkComparable(a: Typed, b: Typed, op: string): ColType | "NULL" {
  if (a.type === "JSON" || b.type === "JSON") {
    throw invalid(`No matching signature for operator ${op} for argument types: JSON. Equality is not defined for arguments of type JSON`);
  }
  if (a.type === "NULL") return b.type;
  if (b.type === "NULL") return a.type;
  const numeric = (t: string): boolean => t === "INT64" || t === "FLOAT64";
  if (a.type !== b.type && !(numeric(a.type) && numeric(b.type))) {
    throw invalid(`No matching signature for operator ${op} for argument types: ${a.type}, ${b.type}`);
  }
  return a.type;
}

/** Three-valued logic: true, false, or null (unknown). */
function evalExpr(e: Expr, scope: Scope): boolean | null {
  switch (e.k) {
    case "and": {
      const a = evalExpr(e.a, scope);
      const b = evalExpr(e.b, scope);
      if (a === false || b === false) return false;
      return a === null || b === null ? null : true;
    }
    case "or": {
      const a = evalExpr(e.a, scope);
      const b = evalExpr(e.b, scope);
      if (a === true || b === true) return true;
      return a === null || b === null ? null : false;
    }
    case "not": {
      const a = evalExpr(e.a, scope);
      return a === null ? null : !a;
    }
    case "isnull": {
      const v = resolveOperand(e.a, scope);
      return (v.value === null) !== e.negate;
    }
    case "bool": {
      const v = resolveOperand(e.a, scope);
      if (v.type !== "BOOL" && v.type !== "NULL") throw invalid(`Expected BOOL but got ${v.type}`);
      return v.value === null ? null : Boolean(v.value);
    }
    case "cmp": {
      const a = resolveOperand(e.a, scope);
      const b = resolveOperand(e.b, scope);
      const type = checkComparable(a, b, e.op);
      if (a.value === null || b.value === null || type === "NULL") return null;
      let c: number;
      if ((a.type === "INT64" || a.type === "FLOAT64") && a.type !== b.type) c = Number(a.value) - Number(b.value);
      else c = compareRaw(type, a.value, b.value);
      switch (e.op) {
        case "=":
          return c === 0;
        case "!=":
          return c !== 0;
        case "<":
          return c < 0;
        case ">":
          return c > 0;
        case "<=":
          return c <= 0;
        default:
          return c >= 0;
      }
    }
  }
}

/** Checks and converts a value assigned to a column (SET / INSERT). */
function assign(field: Field, v: Typed): Raw {
  if (v.type !== "NULL" && v.type !== field.type) {
    if (!(field.type === "FLOAT64" && v.type === "INT64")) {
      throw invalid(`Value of type ${v.type} cannot be assigned to ${field.name}, which has type ${field.type}`);
    }
    return Number(v.value);
  }
  if (v.value === null && field.mode === "REQUIRED") {
    throw invalid(`Cannot assign NULL to REQUIRED column ${field.name}`);
  }
  return v.value;
}

/** Type-checks every expression of a statement once, even when no row is visited. */
function typeCheckExpr(e: Expr | null, scope: Scope): void {
  if (!e) return;
  switch (e.k) {
    case "and":
    case "or":
      typeCheckExpr(e.a, scope);
      typeCheckExpr(e.b, scope);
      return;
    case "not":
      typeCheckExpr(e.a, scope);
      return;
    case "isnull":
      resolveOperand(e.a, scope);
      return;
    case "bool": {
      const v = resolveOperand(e.a, scope);
      if (v.type !== "BOOL" && v.type !== "NULL") throw invalid(`Expected BOOL but got ${v.type}`);
      return;
    }
    case "cmp":
      checkComparable(resolveOperand(e.a, scope), resolveOperand(e.b, scope), e.op);
  }
}

function typeCheckAssignments(fields: Field[], set: Array<{ col: string; value: Operand }>, scope: Scope): void {
  const seen = new Set<string>();
  for (const { col, value } of set) {
    const f = fields.find((x) => x.name.toLowerCase() === col.toLowerCase());
    if (!f) throw invalid(`Unrecognized name: ${col}`);
    if (seen.has(f.name)) throw invalid(`UPDATE/MERGE cannot assign to column ${f.name} more than once`);
    seen.add(f.name);
    const v = resolveOperand(value, scope);
    if (v.type !== "NULL" && v.type !== f.type && !(f.type === "FLOAT64" && v.type === "INT64")) {
      throw invalid(`Value of type ${v.type} cannot be assigned to ${f.name}, which has type ${f.type}`);
    }
  }
}

interface QueryResult {
  statementType: "SELECT" | "UPDATE" | "DELETE" | "MERGE" | "INSERT";
  fields: Field[] | null;
  rows: Raw[][] | null;
  affected: number | null;
  dmlStats: { insertedRowCount: string; updatedRowCount: string; deletedRowCount: string } | null;
  tables: TableState[];
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

interface Job {
  projectId: string;
  jobId: string;
  location: string;
  query: string;
  parameterMode: string | undefined;
  queryParameters: unknown;
  result: QueryResult;
  created: number;
}

interface FaultEntry {
  fault: BigQueryFault;
  remaining: number;
  target: BigQueryFaultTarget;
}

const TABLE_NAME_RE = /^[A-Za-z0-9_-]{1,1024}$/;
const DATASET_NAME_RE = /^[A-Za-z0-9_]{1,1024}$/;

export async function startBigQueryFake(opts: BigQueryFakeOptions = {}): Promise<BigQueryFake> {
  const datasets = new Map<string, DatasetState>();
  const tables = new Map<string, TableState>();
  const jobs = new Map<string, Job>();
  const requests: BigQueryFakeRequest[] = [];
  const recordedQueries: BigQueryFakeQuery[] = [];
  let faults: FaultEntry[] = [];
  const sockets = new Set<Socket>();
  const hanging = new Set<http.ServerResponse>();

  const dsKey = (p: string, d: string): string => `${p}:${d}`;
  const tKey = (p: string, d: string, t: string): string => `${p}:${d}.${t}`;

  function resolveTable(ref: TableRef, defaultProject: string, location: string | undefined): TableState {
    let p: string;
    let d: string;
    let t: string;
    if (ref.parts.length === 3) [p, d, t] = ref.parts as [string, string, string];
    else if (ref.parts.length === 2) {
      p = defaultProject;
      [d, t] = ref.parts as [string, string];
    } else throw invalid("Table name must be qualified with a dataset (e.g. dataset.table)");
    const ds = datasets.get(dsKey(p, d));
    if (!ds) throw notFound(`Not found: Dataset ${p}:${d} was not found in location ${location ?? "US"}`);
    if (location && ds.location.toUpperCase() !== location.toUpperCase()) {
      throw notFound(`Not found: Dataset ${p}:${d} was not found in location ${location}`);
    }
    const table = tables.get(tKey(p, d, t));
    if (!table) throw notFound(`Not found: Table ${p}:${d}.${t} was not found in location ${ds.location}`);
    return table;
  }

  function decodeParams(body: Record<string, unknown>, sql: string): Map<string, Param> {
    const list = body.queryParameters;
    const params = new Map<string, Param>();
    if (list === undefined || list === null) return params;
    if (!Array.isArray(list)) throw invalid("queryParameters must be a list");
    if (list.length > 0 && String(body.parameterMode ?? "").toUpperCase() !== "NAMED") {
      if (/@[A-Za-z_]/.test(sql)) throw invalid("Query parameters must be NAMED for @name references");
      throw invalid("Positional parameters are not supported by this fake");
    }
    for (const raw of list as Array<Record<string, unknown>>) {
      const name = raw.name;
      if (typeof name !== "string" || !name) throw invalid("Query parameter must have a name in NAMED mode");
      const ptype = (raw.parameterType as { type?: unknown } | undefined)?.type;
      if (!ptype) throw invalid(`Query parameter '${name}' is missing parameterType`);
      const type = normaliseType(ptype);
      const pv = raw.parameterValue as { value?: unknown } | undefined;
      if (params.has(name)) throw invalid(`Duplicate query parameter name ${name}`);
      params.set(name, { type, value: decodeParamValue(type, pv?.value, name) });
    }
    return params;
  }

  function runStatement(
    sql: string,
    params: Map<string, Param>,
    defaultProject: string,
    location: string | undefined,
  ): QueryResult {
    const st = new Parser(tokenize(sql)).parse();
    switch (st.k) {
      case "select": {
        const table = st.from ? resolveTable(st.from, defaultProject, location) : null;
        const tableName = table?.tableId ?? null;
        const baseScope = (row: Record<string, Raw> | null): Scope => ({
          sources: table ? [{ alias: st.from!.alias, tableName, fields: table.fields, row }] : [],
          params,
        });
        const outCols = st.star
          ? (table?.fields ?? []).map((f) => ({ expr: { k: "col", qualifier: null, name: f.name } as Operand, as: f.name }))
          : st.columns;
        // Static checks.
        const s0 = baseScope(null);
        typeCheckExpr(st.where, s0);
        const outFields: Field[] = outCols.map((c) => {
          const t = resolveOperand(c.expr, s0);
          const src = c.expr.k === "col" ? table?.fields.find((f) => f.name.toLowerCase() === (c.expr as { name: string }).name.toLowerCase()) : undefined;
          return { name: c.as, type: t.type === "NULL" ? "INT64" : t.type, mode: src?.mode ?? "NULLABLE" };
        });
        for (const o of st.orderBy) {
          const t = resolveOperand(o.col, s0);
          if (t.type === "JSON") throw invalid("ORDER BY does not support expressions of type JSON");
        }
        let limit: number | null = null;
        if (st.limit) {
          const l = resolveOperand(st.limit, s0);
          if (l.type !== "INT64") throw invalid("LIMIT expects an integer literal or parameter");
          if (l.value === null) throw invalid("LIMIT must not be null");
          if ((l.value as bigint) < 0n) throw invalid("LIMIT must be non-negative");
          limit = Number(l.value);
        }
        let rows = table ? table.rows.slice() : [{}];
        if (st.where) rows = rows.filter((r) => evalExpr(st.where!, baseScope(r)) === true);
        if (st.orderBy.length > 0) {
          rows.sort((x, y) => {
            for (const o of st.orderBy) {
              const a = resolveOperand(o.col, baseScope(x));
              const b = resolveOperand(o.col, baseScope(y));
              const c = compareRaw(a.type === "NULL" ? "INT64" : a.type, a.value, b.value);
              if (c !== 0) return o.desc ? -c : c;
            }
            return 0;
          });
        }
        if (limit !== null) rows = rows.slice(0, limit);
        const out = rows.map((r) => outCols.map((c) => resolveOperand(c.expr, baseScope(r)).value));
        return { statementType: "SELECT", fields: outFields, rows: out, affected: null, dmlStats: null, tables: table ? [table] : [] };
      }
      case "update": {
        const table = resolveTable(st.table, defaultProject, location);
        const scope = (row: Record<string, Raw> | null): Scope => ({
          sources: [{ alias: st.table.alias, tableName: table.tableId, fields: table.fields, row }],
          params,
        });
        typeCheckExpr(st.where, scope(null));
        typeCheckAssignments(table.fields, st.set, scope(null));
        const targets = table.rows.filter((r) => evalExpr(st.where, scope(r)) === true);
        // Compute every new row before changing any (the statement is atomic).
        const updated = targets.map((r) => {
          const next = { ...r };
          for (const { col, value } of st.set) {
            const f = table.fields.find((x) => x.name.toLowerCase() === col.toLowerCase())!;
            next[f.name] = assign(f, resolveOperand(value, scope(r)));
          }
          return next;
        });
        targets.forEach((r, i) => {
          table.rows[table.rows.indexOf(r)] = updated[i]!;
        });
        const n = String(targets.length);
        return {
          statementType: "UPDATE",
          fields: null,
          rows: null,
          affected: targets.length,
          dmlStats: { insertedRowCount: "0", updatedRowCount: n, deletedRowCount: "0" },
          tables: [table],
        };
      }
      case "delete": {
        const table = resolveTable(st.table, defaultProject, location);
        const scope = (row: Record<string, Raw> | null): Scope => ({
          sources: [{ alias: st.table.alias, tableName: table.tableId, fields: table.fields, row }],
          params,
        });
        typeCheckExpr(st.where, scope(null));
        const before = table.rows.length;
        table.rows = table.rows.filter((r) => evalExpr(st.where, scope(r)) !== true);
        const n = before - table.rows.length;
        return {
          statementType: "DELETE",
          fields: null,
          rows: null,
          affected: n,
          dmlStats: { insertedRowCount: "0", updatedRowCount: "0", deletedRowCount: String(n) },
          tables: [table],
        };
      }
      case "insert": {
        const table = resolveTable(st.table, defaultProject, location);
        const scope: Scope = { sources: [], params };
        const row = buildInsertRow(table, st.cols, st.values, scope);
        table.rows.push(row);
        return {
          statementType: "INSERT",
          fields: null,
          rows: null,
          affected: 1,
          dmlStats: { insertedRowCount: "1", updatedRowCount: "0", deletedRowCount: "0" },
          tables: [table],
        };
      }
      case "merge": {
        const table = resolveTable(st.target, defaultProject, location);
        const paramScope: Scope = { sources: [], params };
        const sourceFields: Field[] = [];
        const sourceRow: Record<string, Raw> = {};
        for (const c of st.source.cols) {
          const v = resolveOperand(c.value, paramScope);
          sourceFields.push({ name: c.name, type: v.type === "NULL" ? "INT64" : v.type, mode: "NULLABLE" });
          sourceRow[c.name] = v.value;
        }
        const scope = (target: Record<string, Raw> | null, source: Record<string, Raw> | null): Scope => ({
          sources: [
            { alias: st.target.alias, tableName: table.tableId, fields: table.fields, row: target },
            { alias: st.source.alias, tableName: null, fields: sourceFields, row: source },
          ],
          params,
        });
        // Static checks of every clause.
        const s0 = scope(null, null);
        typeCheckExpr(st.on, s0);
        for (const cl of st.clauses) {
          typeCheckExpr(cl.cond, s0);
          if (cl.action.k === "update") typeCheckAssignments(table.fields, cl.action.set, s0);
          if (cl.action.k === "insert") {
            const sourceOnly: Scope = { sources: [{ alias: st.source.alias, tableName: null, fields: sourceFields, row: null }], params };
            typeCheckExpr(cl.cond, sourceOnly);
            for (const v of cl.action.values) resolveOperand(v, sourceOnly);
          }
        }
        const matches = table.rows.filter((r) => evalExpr(st.on, scope(r, sourceRow)) === true);
        let inserted = 0;
        let updated = 0;
        let deleted = 0;
        const replace = new Map<Record<string, Raw>, Record<string, Raw> | null>();
        let insertRow: Record<string, Raw> | null = null;
        if (matches.length > 0) {
          for (const target of matches) {
            const cl = st.clauses.find(
              (c) => c.when === "matched" && (c.cond === null || evalExpr(c.cond, scope(target, sourceRow)) === true),
            );
            if (!cl || cl.when !== "matched") continue;
            if (cl.action.k === "delete") {
              replace.set(target, null);
              deleted++;
            } else {
              const next = { ...target };
              for (const { col, value } of cl.action.set) {
                const f = table.fields.find((x) => x.name.toLowerCase() === col.toLowerCase())!;
                next[f.name] = assign(f, resolveOperand(value, scope(target, sourceRow)));
              }
              replace.set(target, next);
              updated++;
            }
          }
        } else {
          const cl = st.clauses.find(
            (c) => c.when === "notMatched" && (c.cond === null || evalExpr(c.cond, scope(null, sourceRow)) === true),
          );
          if (cl && cl.action.k === "insert") {
            const sourceOnly: Scope = {
              sources: [{ alias: st.source.alias, tableName: null, fields: sourceFields, row: sourceRow }],
              params,
            };
            insertRow = buildInsertRow(table, cl.action.cols, cl.action.values, sourceOnly);
            inserted++;
          }
        }
        // Apply atomically.
        table.rows = table.rows.flatMap((r) => {
          if (!replace.has(r)) return [r];
          const next = replace.get(r);
          return next ? [next] : [];
        });
        if (insertRow) table.rows.push(insertRow);
        return {
          statementType: "MERGE",
          fields: null,
          rows: null,
          affected: inserted + updated + deleted,
          dmlStats: {
            insertedRowCount: String(inserted),
            updatedRowCount: String(updated),
            deletedRowCount: String(deleted),
          },
          tables: [table],
        };
      }
    }
  }

  function buildInsertRow(table: TableState, cols: string[], values: Operand[], scope: Scope): Record<string, Raw> {
    const row: Record<string, Raw> = {};
    for (const f of table.fields) row[f.name] = null;
    const seen = new Set<string>();
    cols.forEach((col, i) => {
      const f = table.fields.find((x) => x.name.toLowerCase() === col.toLowerCase());
      if (!f) throw invalid(`Column ${col} is not present in table ${table.datasetId}.${table.tableId}`);
      if (seen.has(f.name)) throw invalid(`INSERT has columns with duplicate name: ${f.name}`);
      seen.add(f.name);
      row[f.name] = assign(f, resolveOperand(values[i]!, scope));
    });
    for (const f of table.fields) {
      if (f.mode === "REQUIRED" && row[f.name] === null) {
        throw invalid(`Required column value for column index: ${table.fields.indexOf(f)} is missing (${f.name})`);
      }
    }
    return row;
  }

  function queryResponse(job: Job, int64Timestamps: boolean, kind: string, opts: { maxResults?: number; pageToken?: string } = {}): Record<string, unknown> {
    const r = job.result;
    const base: Record<string, unknown> = {
      kind,
      jobReference: { projectId: job.projectId, jobId: job.jobId, location: job.location },
      jobComplete: true,
      totalBytesProcessed: "0",
      cacheHit: false,
    };
    if (r.statementType === "SELECT") {
      const all = r.rows ?? [];
      const start = opts.pageToken ? Number(opts.pageToken) || 0 : 0;
      const end = opts.maxResults !== undefined ? Math.min(all.length, start + opts.maxResults) : all.length;
      const page = all.slice(start, end);
      base.schema = { fields: (r.fields ?? []).map((f) => ({ name: f.name, type: bqTypeName(f.type), mode: f.mode })) };
      base.totalRows = String(all.length);
      if (page.length > 0) {
        base.rows = page.map((row) => ({
          f: row.map((v, i) => ({ v: encodeCell(r.fields![i]!.type, v, int64Timestamps) })),
        }));
      }
      if (end < all.length) base.pageToken = String(end);
    } else {
      base.numDmlAffectedRows = String(r.affected ?? 0);
      base.dmlStats = r.dmlStats;
    }
    return base;
  }

  function jobResource(job: Job): Record<string, unknown> {
    const r = job.result;
    return {
      kind: "bigquery#job",
      id: `${job.projectId}:${job.location}.${job.jobId}`,
      jobReference: { projectId: job.projectId, jobId: job.jobId, location: job.location },
      configuration: {
        jobType: "QUERY",
        query: { query: job.query, parameterMode: job.parameterMode, queryParameters: job.queryParameters, useLegacySql: false },
      },
      status: { state: "DONE" },
      statistics: {
        creationTime: String(job.created),
        startTime: String(job.created),
        endTime: String(job.created),
        query: {
          statementType: r.statementType,
          totalBytesProcessed: "0",
          ...(r.statementType === "SELECT"
            ? {}
            : { numDmlAffectedRows: String(r.affected ?? 0), dmlStats: r.dmlStats }),
        },
      },
    };
  }

  function bqTypeName(t: ColType): string {
    switch (t) {
      case "INT64":
        return "INTEGER";
      case "FLOAT64":
        return "FLOAT";
      case "BOOL":
        return "BOOLEAN";
      default:
        return t;
    }
  }

  function parseFields(schema: unknown): Field[] {
    const list = (schema as { fields?: unknown } | undefined)?.fields;
    if (!Array.isArray(list) || list.length === 0) throw new BqError(400, "Schema has no fields", "invalid", "INVALID_ARGUMENT");
    const seen = new Set<string>();
    return list.map((raw: Record<string, unknown>) => {
      const name = raw.name;
      if (typeof name !== "string" || !/^[A-Za-z_][A-Za-z0-9_]{0,299}$/.test(name)) {
        throw new BqError(400, `Invalid field name "${String(name)}"`, "invalid", "INVALID_ARGUMENT");
      }
      if (seen.has(name.toLowerCase())) throw new BqError(400, `Duplicate column names: ${name}`, "invalid", "INVALID_ARGUMENT");
      seen.add(name.toLowerCase());
      let type: ColType;
      try {
        type = normaliseType(raw.type);
      } catch {
        throw new BqError(400, `Invalid field type for ${name}`, "invalid", "INVALID_ARGUMENT");
      }
      const mode = String(raw.mode ?? "NULLABLE").toUpperCase();
      if (mode !== "NULLABLE" && mode !== "REQUIRED") {
        throw new BqError(400, `Unsupported mode ${mode} in this fake`, "invalid", "INVALID_ARGUMENT");
      }
      return { name, type, mode: mode as Field["mode"] };
    });
  }

  function faultFor(isQuery: boolean, sql: string | null): BigQueryFault | null {
    const statement = sql?.trim().split(/\s+/, 1)[0]?.toUpperCase() ?? "";
    const isDml = ["MERGE", "UPDATE", "DELETE", "INSERT"].includes(statement);
    for (const f of faults) {
      if (f.remaining <= 0) continue;
      const applies =
        f.target === "any" ||
        (f.target === "query" && isQuery) ||
        (f.target === "dml" && isQuery && isDml) ||
        (f.target === "select" && isQuery && statement === "SELECT");
      if (!applies) continue;
      f.remaining--;
      faults = faults.filter((x) => x.remaining > 0);
      return f.fault;
    }
    return null;
  }

  function errorBody(status: number, message: string, reason: string, grpcStatus: string): Record<string, unknown> {
    return {
      error: {
        code: status,
        message,
        errors: [{ message, domain: "global", reason }],
        status: grpcStatus,
      },
    };
  }

  type Reply = { status: number; body: unknown } | "hang" | "drop" | { status: number; body: unknown; dropAfter: true };

  function faultReply(fault: BigQueryFault, tableName: string): Reply | null {
    switch (fault) {
      case "concurrentUpdate":
        return {
          status: 400,
          body: errorBody(400, `Could not serialize access to table ${tableName} due to concurrent update`, "invalidQuery", "INVALID_ARGUMENT"),
        };
      case "dmlQuota":
        return {
          status: 403,
          body: errorBody(
            403,
            `Quota exceeded: Your table exceeded quota for number of DML statements that may be queued against a table. For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas`,
            "quotaExceeded",
            "PERMISSION_DENIED",
          ),
        };
      case "rateLimit":
        return {
          status: 403,
          body: errorBody(
            403,
            "Exceeded rate limits: too many DML statements outstanding against table, limit is 20. For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas",
            "rateLimitExceeded",
            "PERMISSION_DENIED",
          ),
        };
      case "backendError":
        return {
          status: 500,
          body: errorBody(500, "An internal error occurred and the request could not be completed.", "backendError", "INTERNAL"),
        };
      case "unavailable":
        return {
          status: 503,
          body: errorBody(503, "The service is currently unavailable.", "backendError", "UNAVAILABLE"),
        };
      case "streamingBuffer":
        return {
          status: 400,
          body: errorBody(
            400,
            `UPDATE or DELETE statement over table ${tableName} would affect rows in the streaming buffer, which is not supported`,
            "invalidQuery",
            "INVALID_ARGUMENT",
          ),
        };
      case "hang":
        return "hang";
      case "drop":
        return "drop";
      default:
        return null; // commitThenDrop / incomplete are applied after running the statement
    }
  }

  function tableNameIn(sql: string | null, project: string): string {
    const m = sql ? /`([^`]+)`/.exec(sql) : null;
    if (!m) return `${project}:unknown.unknown`;
    const parts = m[1]!.split(".");
    return parts.length === 3 ? `${parts[0]}:${parts[1]}.${parts[2]}` : `${project}:${parts.join(".")}`;
  }

  function runQuery(
    project: string,
    q: Record<string, unknown>,
    location: string | undefined,
    jobId: string,
  ): Job {
    if (typeof q.query !== "string" || !q.query.trim()) throw invalid("Query text is required");
    if (q.useLegacySql === true) throw invalid("Legacy SQL is not supported by this fake");
    if (jobs.has(jobId)) throw new BqError(409, `Already Exists: Job ${project}:${location ?? "US"}.${jobId}`, "duplicate", "ALREADY_EXISTS");
    const params = decodeParams(q, q.query);
    const result = runStatement(q.query, params, project, location);
    const job: Job = {
      projectId: project,
      jobId,
      location: location ?? datasetLocation(result.tables[0]),
      query: q.query,
      parameterMode: typeof q.parameterMode === "string" ? q.parameterMode : undefined,
      queryParameters: q.queryParameters,
      result,
      created: Date.now(),
    };
    jobs.set(jobId, job);
    return job;
  }

  function datasetLocation(t: TableState | undefined): string {
    if (!t) return "US";
    return datasets.get(dsKey(t.projectId, t.datasetId))?.location ?? "US";
  }

  function handle(req: BigQueryFakeRequest): Reply {
    const m = /^(?:\/bigquery\/v2)?\/projects\/([^/]+)(\/.*)?$/.exec(req.pathname);
    const project = m ? decodeURIComponent(m[1]!) : "";
    const rest = m?.[2] ?? "";
    const body = (req.body ?? {}) as Record<string, unknown>;
    const isQuery =
      req.method === "POST" && (rest === "/queries" || rest === "/jobs");
    const sql = isQuery
      ? rest === "/queries"
        ? typeof body.query === "string"
          ? body.query
          : null
        : (((body.configuration as Record<string, unknown> | undefined)?.query as Record<string, unknown> | undefined)?.query as string | undefined) ?? null
      : null;

    if (isQuery) {
      // Recorded before any fault applies: a refused attempt is still an attempt.
      const q = (rest === "/queries" ? body : ((body.configuration as Record<string, unknown> | undefined)?.query ?? {})) as Record<string, unknown>;
      const ref = body.jobReference as { location?: unknown } | undefined;
      const location = rest === "/queries" ? body.location : ref?.location;
      recordedQueries.push({
        api: rest === "/queries" ? "jobs.query" : "jobs.insert",
        query: typeof q.query === "string" ? q.query : "",
        parameterMode: typeof q.parameterMode === "string" ? q.parameterMode : undefined,
        queryParameters: Array.isArray(q.queryParameters) ? (q.queryParameters as BigQueryFakeQuery["queryParameters"]) : [],
        location: typeof location === "string" ? location : undefined,
      });
    }

    const fault = faultFor(isQuery, sql);
    if (fault) {
      const reply = faultReply(fault, tableNameIn(sql, project));
      if (reply) return reply;
    }

    try {
      if (!m) throw notFound(`Not found: URL ${req.pathname}`);

      // insertAll (streaming): recorded above, refused here. The credential store must never stream.
      let mm = /^\/datasets\/([^/]+)\/tables\/([^/]+)\/insertAll$/.exec(rest);
      if (mm) {
        const d = decodeURIComponent(mm[1]!);
        const t = decodeURIComponent(mm[2]!);
        if (!tables.has(tKey(project, d, t))) throw notFound(`Not found: Table ${project}:${d}.${t}`);
        throw new BqError(
          400,
          "tabledata.insertAll (streaming) is refused by this fake: streamed rows cannot be updated or deleted by DML",
          "invalid",
          "INVALID_ARGUMENT",
        );
      }

      // datasets
      if (rest === "/datasets" && req.method === "POST") {
        const ref = body.datasetReference as { datasetId?: unknown; projectId?: unknown } | undefined;
        const d = ref?.datasetId;
        if (typeof d !== "string" || !DATASET_NAME_RE.test(d)) throw new BqError(400, "Invalid dataset ID", "invalid", "INVALID_ARGUMENT");
        if (datasets.has(dsKey(project, d))) throw new BqError(409, `Already Exists: Dataset ${project}:${d}`, "duplicate", "ALREADY_EXISTS");
        const mtt = body.maxTimeTravelHours;
        if (mtt !== undefined && mtt !== null) {
          const hours = Number(mtt);
          if (!Number.isInteger(hours) || hours < 48 || hours > 168 || hours % 24 !== 0) {
            throw new BqError(400, "maxTimeTravelHours must be a multiple of 24 between 48 and 168", "invalid", "INVALID_ARGUMENT");
          }
        }
        const location = typeof body.location === "string" && body.location ? body.location : "US";
        const now = Date.now();
        const resource: Record<string, unknown> = {
          ...body,
          kind: "bigquery#dataset",
          id: `${project}:${d}`,
          datasetReference: { datasetId: d, projectId: project },
          location,
          creationTime: String(now),
          lastModifiedTime: String(now),
          maxTimeTravelHours: mtt === undefined || mtt === null ? "168" : String(mtt),
        };
        datasets.set(dsKey(project, d), { projectId: project, datasetId: d, location, resource: { ...body }, created: now });
        return { status: 200, body: resource };
      }
      mm = /^\/datasets\/([^/]+)$/.exec(rest);
      if (mm && req.method === "GET") {
        const d = decodeURIComponent(mm[1]!);
        const ds = datasets.get(dsKey(project, d));
        if (!ds) throw notFound(`Not found: Dataset ${project}:${d}`);
        return {
          status: 200,
          body: {
            ...ds.resource,
            kind: "bigquery#dataset",
            id: `${project}:${d}`,
            datasetReference: { datasetId: d, projectId: project },
            location: ds.location,
            creationTime: String(ds.created),
            maxTimeTravelHours: String((ds.resource.maxTimeTravelHours as string | undefined) ?? "168"),
          },
        };
      }

      // tables
      mm = /^\/datasets\/([^/]+)\/tables$/.exec(rest);
      if (mm && req.method === "POST") {
        const d = decodeURIComponent(mm[1]!);
        const ds = datasets.get(dsKey(project, d));
        if (!ds) throw notFound(`Not found: Dataset ${project}:${d}`);
        const ref = body.tableReference as { tableId?: unknown } | undefined;
        const t = ref?.tableId;
        if (typeof t !== "string" || !TABLE_NAME_RE.test(t)) throw new BqError(400, "Invalid table ID", "invalid", "INVALID_ARGUMENT");
        if (tables.has(tKey(project, d, t))) throw new BqError(409, `Already Exists: Table ${project}:${d}.${t}`, "duplicate", "ALREADY_EXISTS");
        const fields = parseFields(body.schema);
        const clusteringRaw = (body.clustering as { fields?: unknown } | undefined)?.fields;
        let clustering: string[] | null = null;
        if (clusteringRaw !== undefined) {
          if (!Array.isArray(clusteringRaw) || clusteringRaw.length === 0 || clusteringRaw.length > 4) {
            throw new BqError(400, "Clustering fields must be a list of 1 to 4 columns", "invalid", "INVALID_ARGUMENT");
          }
          for (const c of clusteringRaw) {
            const f = fields.find((x) => x.name === c);
            if (!f) throw new BqError(400, `The field specified for clustering cannot be found in the schema: ${String(c)}`, "invalid", "INVALID_ARGUMENT");
            if (f.type === "JSON") throw new BqError(400, `Clustering on JSON column ${f.name} is not supported`, "invalid", "INVALID_ARGUMENT");
          }
          clustering = clusteringRaw as string[];
        }
        const state: TableState = { projectId: project, datasetId: d, tableId: t, fields, clustering, rows: [], resource: body, created: Date.now() };
        tables.set(tKey(project, d, t), state);
        return { status: 200, body: tableResource(state) };
      }
      mm = /^\/datasets\/([^/]+)\/tables\/([^/]+)$/.exec(rest);
      if (mm && req.method === "GET") {
        const d = decodeURIComponent(mm[1]!);
        const t = decodeURIComponent(mm[2]!);
        if (!datasets.has(dsKey(project, d))) throw notFound(`Not found: Dataset ${project}:${d}`);
        const state = tables.get(tKey(project, d, t));
        if (!state) throw notFound(`Not found: Table ${project}:${d}.${t}`);
        return { status: 200, body: tableResource(state) };
      }

      // jobs.query
      if (rest === "/queries" && req.method === "POST") {
        const location = typeof body.location === "string" ? body.location : undefined;
        const jobId = `job_${randomUUID().replace(/-/g, "")}`;
        const job = runQuery(project, body, location, jobId);
        const formatOptions = body.formatOptions as { useInt64Timestamp?: unknown } | undefined;
        const int64 = formatOptions?.useInt64Timestamp === true;
        if (fault === "incomplete") {
          return {
            status: 200,
            body: {
              kind: "bigquery#queryResponse",
              jobReference: { projectId: job.projectId, jobId: job.jobId, location: job.location },
              jobComplete: false,
            },
          };
        }
        const response = { status: 200, body: queryResponse(job, int64, "bigquery#queryResponse", { maxResults: numberOrUndefined(body.maxResults) }) };
        return fault === "commitThenDrop" ? "drop" : response;
      }

      // jobs.insert
      if (rest === "/jobs" && req.method === "POST") {
        const config = body.configuration as { query?: Record<string, unknown> } | undefined;
        if (!config?.query) throw new BqError(400, "Only query jobs are supported by this fake", "invalid", "INVALID_ARGUMENT");
        const ref = body.jobReference as { jobId?: unknown; location?: unknown } | undefined;
        const jobId = typeof ref?.jobId === "string" ? ref.jobId : `job_${randomUUID().replace(/-/g, "")}`;
        const location = typeof ref?.location === "string" ? ref.location : undefined;
        const job = runQuery(project, config.query, location, jobId);
        return fault === "commitThenDrop" ? "drop" : { status: 200, body: jobResource(job) };
      }

      // jobs.get
      mm = /^\/jobs\/([^/]+)$/.exec(rest);
      if (mm && req.method === "GET") {
        const job = jobs.get(decodeURIComponent(mm[1]!));
        if (!job) throw notFound(`Not found: Job ${project}:${decodeURIComponent(mm[1]!)}`);
        return { status: 200, body: jobResource(job) };
      }

      // jobs.getQueryResults
      mm = /^\/queries\/([^/]+)$/.exec(rest);
      if (mm && req.method === "GET") {
        const job = jobs.get(decodeURIComponent(mm[1]!));
        if (!job) throw notFound(`Not found: Job ${project}:${decodeURIComponent(mm[1]!)}`);
        const int64 = req.query["formatOptions.useInt64Timestamp"] === "true";
        return {
          status: 200,
          body: queryResponse(job, int64, "bigquery#getQueryResultsResponse", {
            maxResults: numberOrUndefined(req.query.maxResults),
            pageToken: req.query.pageToken,
          }),
        };
      }

      throw notFound(`Not found: ${req.method} ${req.pathname}`);
    } catch (err) {
      if (err instanceof BqError) {
        return { status: err.status, body: errorBody(err.status, err.message, err.reason, err.grpcStatus) };
      }
      return { status: 500, body: errorBody(500, "fake crashed", "internalError", "INTERNAL") };
    }
  }

  function tableResource(t: TableState): Record<string, unknown> {
    return {
      kind: "bigquery#table",
      id: `${t.projectId}:${t.datasetId}.${t.tableId}`,
      tableReference: { projectId: t.projectId, datasetId: t.datasetId, tableId: t.tableId },
      type: "TABLE",
      schema: { fields: t.fields.map((f) => ({ name: f.name, type: bqTypeName(f.type), mode: f.mode })) },
      ...(t.clustering ? { clustering: { fields: t.clustering } } : {}),
      numRows: String(t.rows.length),
      creationTime: String(t.created),
      location: datasets.get(dsKey(t.projectId, t.datasetId))?.location ?? "US",
    };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const rawBody = Buffer.concat(chunks).toString("utf8");
      const parsedUrl = new URL(req.url ?? "/", "http://fake.invalid");
      let body: unknown = null;
      if (rawBody) {
        try {
          body = JSON.parse(rawBody);
        } catch {
          body = null;
        }
      }
      const recorded: BigQueryFakeRequest = {
        method: req.method ?? "GET",
        path: req.url ?? "/",
        pathname: parsedUrl.pathname,
        query: Object.fromEntries(parsedUrl.searchParams),
        headers: req.headers,
        body,
        rawBody,
        at: Date.now(),
      };
      requests.push(recorded);
      const reply = handle(recorded);
      if (reply === "hang") {
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
        return;
      }
      if (reply === "drop") {
        req.socket.destroy();
        return;
      }
      const text = JSON.stringify(reply.body);
      res.writeHead(reply.status, { "content-type": "application/json; charset=UTF-8", "content-length": Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? "127.0.0.1";
  let closed: Promise<void> | null = null;

  function findTable(name?: string): TableState {
    const all = [...tables.values()];
    if (!name) {
      if (all.length !== 1) throw new Error(`rows(): ${all.length} tables exist; name one`);
      return all[0]!;
    }
    const parts = name.split(".");
    const hit = all.find((t) =>
      parts.length === 1
        ? t.tableId === parts[0]
        : parts.length === 2
          ? t.datasetId === parts[0] && t.tableId === parts[1]
          : t.projectId === parts[0] && t.datasetId === parts[1] && t.tableId === parts[2],
    );
    if (!hit) throw new Error(`rows(): no table ${name}`);
    return hit;
  }

  return {
    url: `http://${host}:${port}`,
    port,
    requests,
    queries: () => recordedQueries.slice(),
    rows(table?: string): BigQueryFakeRow[] {
      const t = findTable(table);
      return t.rows.map((r) => {
        const out: BigQueryFakeRow = {};
        for (const f of t.fields) out[f.name] = decodeForRows(f.type, r[f.name] ?? null);
        return out;
      });
    },
    datasets: () =>
      [...datasets.values()].map((d) => ({ projectId: d.projectId, datasetId: d.datasetId, location: d.location, resource: d.resource })),
    tables: () =>
      [...tables.values()].map((t) => ({
        projectId: t.projectId,
        datasetId: t.datasetId,
        tableId: t.tableId,
        schema: t.fields.map((f) => ({ name: f.name, type: f.type, mode: f.mode })),
        clustering: t.clustering ? t.clustering.slice() : null,
        resource: t.resource,
      })),
    inject(fault: BigQueryFault, times = 1, target: BigQueryFaultTarget = "query"): void {
      if (!Number.isInteger(times) || times < 1) throw new RangeError("times must be a positive integer");
      faults.push({ fault, remaining: times, target });
    },
    pendingFaults: () => faults.reduce((n, f) => n + f.remaining, 0),
    clearFaults(): void {
      faults = [];
    },
    clearRequests(): void {
      requests.length = 0;
      recordedQueries.length = 0;
    },
    close(): Promise<void> {
      if (!closed) {
        closed = new Promise<void>((resolve) => {
          for (const res of hanging) res.destroy();
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        });
      }
      return closed;
    },
  };
}

function numberOrUndefined(v: unknown): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

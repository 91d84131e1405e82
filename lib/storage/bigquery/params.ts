import "server-only";

import { BigQuery } from "@google-cloud/bigquery";
import type { ColumnKind } from "../row-codec";

/**
 * Query parameters: every value travels as a named parameter with an explicit type (a null value
 * needs one, and nothing is inferred); only validated identifiers are ever in SQL text.
 * https://cloud.google.com/bigquery/docs/parameterized-queries
 */

export type ParamType = ColumnKind;

/** Named parameters with an explicit type each (a null value needs one, and we never infer). */
export class Params {
  readonly params: Record<string, unknown> = {};
  readonly types: Record<string, string> = {};

  /** Adds a parameter and returns its SQL reference (`@name`). */
  add(name: string, type: ParamType, value: unknown): string {
    if (!/^[a-z_][a-z0-9_]*$/.test(name) || Object.hasOwn(this.types, name)) {
      throw new Error(`internal: bad or duplicate parameter name ${name}`);
    }
    this.types[name] = type;
    this.params[name] = encodeParam(type, value);
    return `@${name}`;
  }
}

function encodeParam(type: ParamType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case "STRING":
      return String(value);
    case "INT64":
      return String(value);
    case "BYTES":
      // BigQuery wants base64 text; the client would serialise a Buffer as {"type":"Buffer",…}.
      return (value as Buffer).toString("base64");
    case "TIMESTAMP":
      // The client sends custom types through `.value`: a bare string would be dropped.
      return BigQuery.timestamp(value as string);
    case "JSON":
      return value; // already JSON text
  }
}


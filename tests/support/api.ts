import { inject } from "vitest";

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A tiny REST client for the suites: JSON in, JSON out, the raw text kept for leak checks. */
export function api(apiKey?: string, opts: { bearer?: boolean } = {}) {
  const baseUrl = inject("baseUrl");
  const call = async <T = any>(method: string, path: string, body?: unknown, raw?: string): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = {};
    if (apiKey) headers[opts.bearer ? "authorization" : "x-api-key"] = opts.bearer ? `Bearer ${apiKey}` : apiKey;
    if (body !== undefined || raw !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  };
  return {
    get: <T = any>(p: string) => call<T>("GET", p),
    post: <T = any>(p: string, body?: unknown) => call<T>("POST", p, body),
    postRaw: <T = any>(p: string, raw: string) => call<T>("POST", p, undefined, raw),
    put: <T = any>(p: string, body?: unknown) => call<T>("PUT", p, body),
    del: <T = any>(p: string) => call<T>("DELETE", p),
  };
}

let counter = 0;
/** A unique org slug per test, so suites never share state. */
export function uniqueOrg(prefix: string): string {
  counter++;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`.slice(0, 60);
}

import "server-only";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { checkWebhookTarget, TargetRefused, type Resolver } from "./ssrf";
import { signWebhook } from "./signing";

export interface AttemptResult {
  ok: boolean;
  /** The receiver's HTTP status, or null when no answer came (refused, unreachable, timed out). */
  responseCode: number | null;
  /** Why it failed, for the delivery log: fixed sentences and codes, never the receiver's body. */
  error: string | null;
}

export interface DeliverOptions {
  allowPrivate: boolean;
  timeoutMs: number;
  resolve?: Resolver;
  /** Extra CAs to trust (tests' throwaway CA); the system's otherwise. */
  ca?: string | Buffer;
}

/**
 * One delivery attempt: check the target again (it may resolve elsewhere since it was created),
 * then POST to the address that was checked. The connection never does its own DNS lookup: the
 * `lookup` it is given answers with the checked address, while TLS still verifies the certificate
 * against the URL's host name (SNI), so a rebinding DNS answer cannot redirect the request.
 * 2xx is success; redirects are not followed (a redirect could point anywhere) and count as failure.
 */
export async function attemptDelivery(args: { url: string; secret: string; msgId: string; body: string; nowMs: number }, opts: DeliverOptions): Promise<AttemptResult> {
  let target;
  try {
    target = await checkWebhookTarget(args.url, { allowPrivate: opts.allowPrivate, resolve: opts.resolve });
  } catch (e) {
    if (e instanceof TargetRefused) return { ok: false, responseCode: null, error: `refused: the URL ${e.message}` };
    throw e;
  }
  const headers = {
    ...signWebhook(args.secret, args.msgId, Math.floor(args.nowMs / 1000), args.body),
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(args.body)),
    "user-agent": "finops-credential-manager-webhooks/1",
  };
  const pinned: LookupFunction = (_host, options, cb) => {
    // Node 20 asks with `all: true` when it races address families (autoSelectFamily).
    if ((options as { all?: boolean }).all) (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: target.address, family: target.family }]);
    else cb(null, target.address, target.family);
  };
  const isHttps = target.url.protocol === "https:";
  const mod = isHttps ? https : http;
  return await new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const done = (r: AttemptResult) => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    const req = mod.request(
      target.url,
      {
        method: "POST",
        headers,
        lookup: pinned,
        agent: false,
        timeout: opts.timeoutMs,
        ...(isHttps ? { servername: target.hostname.includes(":") ? undefined : target.hostname, ...(opts.ca ? { ca: opts.ca } : {}) } : {}),
      },
      (res) => {
        const code = res.statusCode ?? 0;
        // Read (and drop) at most 64 KiB of the answer, so the socket can close cleanly.
        let seen = 0;
        res.on("data", (c: Buffer) => {
          seen += c.length;
          if (seen > 64 * 1024) res.destroy();
        });
        const finish = () =>
          done(code >= 200 && code < 300 ? { ok: true, responseCode: code, error: null } : { ok: false, responseCode: code, error: `the receiver answered HTTP ${code}` });
        res.on("end", finish);
        res.on("close", finish);
        res.on("error", finish);
      },
    );
    const hardStop = setTimeout(() => {
      req.destroy();
      done({ ok: false, responseCode: null, error: `no answer within ${opts.timeoutMs} ms` });
    }, opts.timeoutMs + 1000);
    hardStop.unref();
    req.on("timeout", () => {
      req.destroy();
      done({ ok: false, responseCode: null, error: `no answer within ${opts.timeoutMs} ms` });
    });
    req.on("error", (e: NodeJS.ErrnoException) => {
      const code = typeof e.code === "string" && /^[A-Z0-9_]{2,40}$/.test(e.code) ? e.code : "connection error";
      done({ ok: false, responseCode: null, error: `could not connect (${code})` });
    });
    req.on("close", () => clearTimeout(hardStop));
    req.end(args.body);
  });
}

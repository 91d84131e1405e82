export const API_PREFIXES: readonly string[];
export function isApiPath(pathname: string): boolean;
export const API_CSP: string;
export const HSTS: string;
export function servedOverHttps(encrypted: boolean, forwardedProto: string | null | undefined, publicOrigin: string | undefined): boolean;
export const BODY_LIMIT_BYTES: number;
export const DRAIN_LIMIT_BYTES: number;
export const TOO_LARGE_MESSAGE: string;
export function checkPath(pathname: string): string | null;

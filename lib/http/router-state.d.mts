/** Why the router-state header value is refused, or null when Next will parse it. */
export function checkRouterStateHeader(value: string): string | null;

/**
 * The routes anyone may call without an account (registration, sign-in, a token's refresh, a
 * visit's start) take bodies of a few hundred bytes: the largest valid one, a registration with
 * every field at its longest and written out as \u escapes, is under 10 kB. Under the server's
 * BODY_LIMIT (1 MiB by default) each such request made the server buffer, decode and parse up to
 * a megabyte before any rate limit or credential was looked at: 400 at once held 400 MB, and 20
 * connections sending them back to back kept /health at 400 ms. With this limit a larger body is
 * refused as soon as its size shows (its Content-Length, or the chunks read so far).
 */
export const OPEN_ROUTE_BODY_LIMIT = 16 * 1024;

/** The open routes' limit, never above the server's own (an operator may set BODY_LIMIT lower). */
export function openRouteBodyLimit(app: { initialConfig: { bodyLimit?: number } }): number {
  return Math.min(OPEN_ROUTE_BODY_LIMIT, app.initialConfig.bodyLimit ?? OPEN_ROUTE_BODY_LIMIT);
}

/**
 * What an answer that lasts (a stream, a whole completion while the model answers) was asked with
 * has been read by the time it starts (schemas, idempotency's fingerprint, the service). It lasts
 * seconds to minutes, and a caller's body may be its whole conversation, up to BODY_LIMIT
 * (docs/decisions.md, "Memory per open stream, again").
 */
export function letGoOfBody(request: { body: unknown }): void {
  request.body = undefined;
}

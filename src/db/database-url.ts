// Where a PostgreSQL connection string points, read as libpq (psql, pg_dump) reads it. postgres.js
// reads a URL's host itself, cutting it at its first colon and never decoding it: an IPv6 address
// (`[::1]`) became the host name "[", a Unix socket folder written percent-encoded
// (`%2Fvar%2Frun%2Fpostgresql`) a host name to look up, and `?host=`/`?port=` went to the server as
// settings it refuses (42704). Each started nothing but a retry loop ending in ENOTFOUND or 42704.
import type postgres from 'postgres';

export interface PostgresTarget {
  /** The connection string for the driver, less the `host` and `port` parameters read here. */
  url: string;
  /** Where the driver would misread them: the host and port, or the socket's file, given apart. */
  options: Pick<postgres.Options<Record<string, never>>, 'host' | 'port' | 'path'>;
}

/**
 * One host and its port as lists, the form the driver keeps them in once parsed and takes as
 * given: a single string it splits at commas and colons. Its declared options name strings only.
 */
const asLists = (host: string, port: number, path?: string): PostgresTarget['options'] => ({ host: [host] as unknown as string, port: [port] as unknown as number, ...(path ? { path } : {}) });

function parse(raw: string): { url: URL; host: string; port: string; fromQuery: boolean } | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  const queryHost = url.searchParams.get('host');
  const queryPort = url.searchParams.get('port');
  let host = queryHost || url.hostname;
  try {
    host = decodeURIComponent(host);
  } catch {
    // Left as written: a `%` that starts no escape is part of the name.
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { url, host, port: queryPort || url.port, fromQuery: queryHost !== null || queryPort !== null };
}

/** `raw` as postgres.js takes it, with host and port given apart where it would misread them. */
export function postgresTarget(raw: string): PostgresTarget {
  const parsed = parse(raw);
  if (!parsed) return { url: raw, options: {} };
  const { url, host, fromQuery } = parsed;
  if (!fromQuery && !host.includes(':') && !host.startsWith('/')) return { url: raw, options: {} };
  url.searchParams.delete('host');
  url.searchParams.delete('port');
  const port = Number(parsed.port || 5432);
  // No host written: the driver's own default (PGHOST, then localhost) stays.
  if (!host) return { url: url.toString(), options: { port } };
  const socket = host.startsWith('/') ? `${host.replace(/\/+$/, '')}/.s.PGSQL.${port}` : undefined;
  return { url: url.toString(), options: asLists(host, port, socket) };
}

/** host:port/database of a connection string, without credentials, for messages. */
export function describeDatabaseUrl(raw: string): string {
  const parsed = parse(raw);
  if (!parsed) return 'the configured server';
  const host = parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host;
  return `${host}:${parsed.port || '5432'}${parsed.url.pathname}`;
}

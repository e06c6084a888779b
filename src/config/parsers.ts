// Value parsers for environment variables. Each returns the parsed value or throws
// a ConfigValueError whose message says what the variable expects.
import ipaddr from 'ipaddr.js';

export class ConfigValueError extends Error {}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "15m", "30d", "10s", "250ms" or a bare number of seconds → milliseconds. */
export function parseDuration(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!match) throw new ConfigValueError('a duration such as 30s, 15m, 12h or 30d');
  const value = Number(match[1]) * DURATION_UNITS[match[2] ?? 's']!;
  if (!Number.isFinite(value) || value <= 0) throw new ConfigValueError('a positive duration such as 30s, 15m or 30d');
  return Math.round(value);
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** "1048576", "512kb", "1MiB", "2GB" → bytes. */
export function parseSize(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
  const unit = SIZE_UNITS[(match?.[2] || 'b').toLowerCase()];
  if (!match || unit === undefined) throw new ConfigValueError('a size in bytes, or with a unit: 512kb, 1mb, 1MiB');
  const bytes = Math.floor(Number(match[1]) * unit);
  if (bytes < 1) throw new ConfigValueError('a positive size');
  return bytes;
}

/** KNOWLEDGE_LIMIT_PER_ACCOUNT: a size as parseSize reads it, or 0 / `off` for none (null). */
export function parseSizeLimit(raw: string): number | null {
  const value = raw.trim().toLowerCase();
  if (value === '0' || value === 'off') return null;
  try {
    return parseSize(raw);
  } catch {
    throw new ConfigValueError('a size such as 100MB, 500mb or 2GiB (bytes, or kb, mb, gb, KiB, MiB, GiB), or 0 for no limit');
  }
}

/** A size as PostgreSQL's settings take it: 16MB, 512kB, 1GB (128kB at least). */
export function parsePgSize(raw: string): string {
  const match = /^\s*(\d{1,7})\s*(kB|MB|GB)\s*$/.exec(raw);
  const kilobytes = match ? Number(match[1]) * { kB: 1, MB: 1024, GB: 1024 * 1024 }[match[2] as 'kB' | 'MB' | 'GB'] : 0;
  if (!match || kilobytes < 128 || kilobytes > 64 * 1024 * 1024) throw new ConfigValueError('a size between 128kB and 64GB written as PostgreSQL does, such as 16MB or 1GB');
  return `${match[1]}${match[2]}`;
}

export function parseInteger(raw: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigValueError(`an integer between ${min} and ${max}`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigValueError(`an integer between ${min} and ${max}`);
  return value;
}

/** MAX_CONCURRENT_TURNS: `auto`, `off` or a whole number of turns. */
export function parseTurnCap(raw: string): number | 'auto' | null {
  const value = raw.trim().toLowerCase();
  if (value === 'auto') return 'auto';
  if (value === 'off') return null;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 10_000_000) throw new ConfigValueError('auto, off, or a whole number of turns from 1 to 10000000');
  return Number(value);
}

export function parseBoolean(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(value)) return true;
  if (['false', '0', 'no', 'off'].includes(value)) return false;
  throw new ConfigValueError('true or false');
}

/** How many proxies are in front (1–10), or which addresses are proxies. */
export type TrustProxy = boolean | number | string[];

/**
 * TRUST_PROXY: `true` believes the first address of X-Forwarded-For (a proxy that replaces the
 * header), a number of proxies believes the address that many hops from Parley (proxies that
 * append to what the client sent: nginx's $proxy_add_x_forwarded_for, cloud load balancers), and
 * a list of addresses or CIDR ranges believes exactly those proxies.
 */
export function parseTrustProxy(raw: string): TrustProxy {
  const value = raw.trim().toLowerCase();
  if (['true', 'yes', 'on'].includes(value)) return true;
  if (['false', 'no', 'off', '0'].includes(value)) return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops >= 1 && hops <= 10) return hops;
  } else {
    const proxies = value.split(',').map((item) => item.trim()).filter(Boolean);
    const valid = (item: string) => (item.includes('/') ? isValidCidr(item) : ipaddr.isValid(item));
    if (proxies.length > 0 && proxies.every(valid)) return proxies;
  }
  throw new ConfigValueError('true, false, the number of proxies in front of Parley (1–10), or a comma-separated list of their addresses or CIDR ranges');
}

function isValidCidr(item: string): boolean {
  try {
    ipaddr.parseCIDR(item);
    return true;
  } catch {
    return false;
  }
}

export function parseEnum<T extends string>(raw: string, allowed: readonly T[]): T {
  const value = raw.trim().toLowerCase() as T;
  if (!allowed.includes(value)) throw new ConfigValueError(`one of ${allowed.join(', ')}`);
  return value;
}

export function parseList(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export interface RateRule {
  limit: number;
  windowMs: number;
}

/** "10/1m", "30/60s" or "off" (→ null: the limit is not applied). */
export function parseRate(raw: string): RateRule | null {
  const value = raw.trim().toLowerCase();
  if (value === 'off') return null;
  const match = /^(\d+)\s*\/\s*(\d*)(ms|s|m|h|d)$/.exec(value);
  if (!match) throw new ConfigValueError('a rate such as 10/1m, 30/60s or off');
  const limit = Number(match[1]);
  const windowMs = Number(match[2] || '1') * DURATION_UNITS[match[3]!]!;
  if (limit < 1 || windowMs < 1000) throw new ConfigValueError('a rate of at least 1 per second-long window, such as 10/1m, or off');
  return { limit, windowMs };
}

/**
 * A key or token sent in an HTTP header or matched against one, which cannot carry a line break:
 * one read from a file written with `echo` or saved with CRLF (a Kubernetes or Docker secret) ends
 * in one, and was never sent (ERR_INVALID_CHAR, taken for an unreachable model) or never matched.
 */
export function parseHeaderToken(raw: string): string {
  const value = raw.trim();
  if (value === '') throw new ConfigValueError('a key or token, not only spaces or line breaks');
  if (/[\r\n]/.test(value)) throw new ConfigValueError('one line: a key or token with a line break inside cannot be sent in a header');
  return value;
}

export function parseUrl(raw: string, protocols: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigValueError(`a URL (${protocols.join(' or ')})`);
  }
  if (!protocols.includes(url.protocol.replace(/:$/, ''))) throw new ConfigValueError(`a URL (${protocols.join(' or ')})`);
  return raw;
}

/** A public address, fetched as it is: fetch refuses a URL with credentials, and its error would carry the password to the logs. */
export function parsePublicUrl(raw: string, protocols: readonly string[]): string {
  const parsed = parseUrl(raw, protocols);
  const url = new URL(parsed);
  if (url.username || url.password) throw new ConfigValueError(`a URL (${protocols.join(' or ')}) without a user name or password`);
  return parsed;
}

/** A PostgreSQL role name we can write into SQL without quoting surprises. */
export function parseRoleName(raw: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(raw)) throw new ConfigValueError('a role name: lowercase letters, digits and _, starting with a letter or _');
  return raw;
}

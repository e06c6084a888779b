// Server-side request forgery (§12 "Webhooks"): a webhook URL is the owner's to choose, so
// without a guard it could make the server call its own admin ports, the database, or a cloud
// metadata service (169.254.169.254). Only public unicast addresses are connected to, and the
// check is made on the address actually connected to: literal IPs here, names in the lookup
// the connection itself uses, so a DNS answer that changes between a check and the connect
// (rebinding) changes nothing.
import { Resolver, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

export const MAX_WEBHOOK_URL_CHARS = 2048;

// Every address outside 2000::/3 is special-purpose, and some carry an IPv4 address that a
// network may route to (IPv4-compatible ::a.b.c.d, which ipaddr.js counts as unicast).
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

const RANGE_WORDS: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  linkLocal: 'a link-local address',
  uniqueLocal: 'a unique local (private) address',
  carrierGradeNat: 'a carrier-grade NAT address',
  unspecified: 'the unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
  rfc6145: 'an IPv4-translated address',
  rfc6052: 'a NAT64 address',
  '6to4': 'a 6to4 address',
  teredo: 'a Teredo address',
};

/** Why `address` may not be connected to, or null when it is public unicast. */
export function addressRefusal(address: string): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // IPv4-mapped IPv6 (::ffff:7f00:1) comes back as the IPv4 address it carries.
    parsed = ipaddr.process(address);
  } catch {
    return `${address} is not an IP address`;
  }
  const range = parsed.range();
  if (range !== 'unicast') return `${parsed.toString()} is ${RANGE_WORDS[range] ?? `a special-purpose address (${range})`}, not a public unicast address`;
  if (parsed.kind() === 'ipv6' && !parsed.match(GLOBAL_UNICAST_V6)) return `${parsed.toString()} is outside global unicast IPv6 (2000::/3), not a public unicast address`;
  return null;
}

/** The host of a parsed URL as an IP address, when it is written as one (brackets removed). */
export function literalAddress(url: URL): string | null {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(host) ? host : null;
}

export class AddressRefusedError extends Error {
  override name = 'AddressRefusedError';
  readonly code = 'EADDRREFUSED';
}

/**
 * Receivers' names are asked of the DNS through c-ares, which runs on the event loop. Node's
 * lookup is getaddrinfo in libuv's thread pool, two lookups at a time for the whole process, and
 * how slowly a name resolves is up to whoever runs its DNS: a webhook host whose answers took 3 s
 * held the model's host, issuers' key sets and every other account's webhooks behind it, and
 * another account's turn took 6 s. c-ares reads /etc/resolv.conf, not /etc/hosts: a public
 * receiver is in the DNS. A delivery's own timeout bounds the whole exchange, lookup included.
 */
const dnsClient = new Resolver({ timeout: 5_000, tries: 2 });

/** Loopback by definition (RFC 6761), whatever a DNS server says of them. */
const LOCALHOST = /^(?:.+\.)?localhost\.?$/i;
const LOOPBACK: LookupAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

type Resolved = (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void;

/** The name's addresses of the families asked for (0: both), IPv4 first; ENOTFOUND when there are none. */
function resolveName(hostname: string, family: number, callback: Resolved): void {
  const families = family === 4 || family === 6 ? [family] : [4, 6];
  if (LOCALHOST.test(hostname)) return callback(null, LOOPBACK.filter((answer) => families.includes(answer.family)));
  const found: LookupAddress[] = [];
  let failure: NodeJS.ErrnoException | null = null;
  let waiting = families.length;
  const settle = (answerFamily: number) => (error: NodeJS.ErrnoException | null, addresses: string[]) => {
    if (error) failure ??= error;
    else for (const address of addresses) found.push({ address, family: answerFamily });
    if (--waiting > 0) return;
    if (found.length > 0) return callback(null, found.sort((a, b) => a.family - b.family));
    // No address of either family is a name without addresses, whichever family answered first.
    const notFound = !failure || failure.code === 'ENODATA' || failure.code === 'ENOTFOUND';
    callback(notFound ? Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }) : failure, []);
  };
  for (const answerFamily of families) {
    if (answerFamily === 4) dnsClient.resolve4(hostname, settle(4));
    else dnsClient.resolve6(hostname, settle(6));
  }
}

/**
 * A `lookup` for http.request: resolves the name, then refuses the connection unless every
 * answer is public unicast (one private answer among public ones could be the one connected to).
 * Node calls it for names only: literal IPs never reach a lookup, and are checked before.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  resolveName(hostname, options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : Number(options.family ?? 0), (error, addresses) => {
    if (error) return callback(error, '', 0);
    // The refusal reaches the owner's delivery log: it names no address, or any account could
    // read the server's internal DNS (a cluster's services, a cloud's private zone) through it.
    if (addresses.some((answer) => addressRefusal(answer.address) !== null)) {
      return callback(new AddressRefusedError(`${hostname}: an address of the name is not a public unicast address`), '', 0);
    }
    if (options.all) return callback(null, addresses);
    return callback(null, addresses[0]!.address, addresses[0]!.family);
  });
};

/**
 * What is wrong with a webhook URL as written, or null. `allowPrivate` false also refuses a host
 * written as a non-public IP; names are checked at each delivery, when they are resolved.
 */
export function webhookUrlProblem(raw: string, allowPrivate: boolean): string | null {
  if (raw.length > MAX_WEBHOOK_URL_CHARS) return `must be at most ${MAX_WEBHOOK_URL_CHARS} characters`;
  // The URL parser drops tabs and line breaks, so deliveries would go to another url than the one
  // stored and shown: percent-encoded, they are part of the url as written.
  if (/[\s\p{Cc}]/u.test(raw)) return 'must not hold spaces, tabs, line breaks or control characters: percent-encode them';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an absolute http or https URL';
  if (url.username || url.password) return 'must not carry credentials (user:password@): put a token in the path or query instead';
  if (!url.hostname) return 'must name a host';
  if (url.port === '0') return 'must not name port 0';
  if (url.href.length > MAX_WEBHOOK_URL_CHARS) return `must be at most ${MAX_WEBHOOK_URL_CHARS} characters once encoded`;
  const literal = literalAddress(url);
  const why = literal && !allowPrivate ? addressRefusal(literal) : null;
  if (why) return `must point to a public address: ${why}`;
  return null;
}

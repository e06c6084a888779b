// Server-side request forgery (§12 "Webhooks"): a webhook URL is the owner's to choose, so
// without a guard it could make the server call its own admin ports, the database, or a cloud
// metadata service (169.254.169.254). Only public unicast addresses are connected to, and the
// check is made on the address actually connected to: literal IPs here, names in the lookup
// the connection itself uses, so a DNS answer that changes between a check and the connect
// (rebinding) changes nothing.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
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
 * A `lookup` for http.request: resolves as Node would, then refuses the connection unless every
 * answer is public unicast (one private answer among public ones could be the one connected to).
 * Node calls it for names only: literal IPs never reach a lookup, and are checked before.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  const all: LookupAllOptions = { ...options, all: true };
  dnsLookup(hostname, all, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
    for (const answer of addresses) {
      const why = addressRefusal(answer.address);
      if (why) return callback(new AddressRefusedError(`${hostname}: ${why}`), '', 0);
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
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an absolute http or https URL';
  if (url.username || url.password) return 'must not carry credentials (user:password@): put a token in the path or query instead';
  if (!url.hostname) return 'must name a host';
  if (url.href.length > MAX_WEBHOOK_URL_CHARS) return `must be at most ${MAX_WEBHOOK_URL_CHARS} characters once encoded`;
  const literal = literalAddress(url);
  const why = literal && !allowPrivate ? addressRefusal(literal) : null;
  if (why) return `must point to a public address: ${why}`;
  return null;
}

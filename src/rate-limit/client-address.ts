// Who a per-address limit counts (RATE_LIMIT_PUBLIC_IP, RATE_LIMIT_LOGIN_IP, RATE_LIMIT_REGISTER_IP).
// An IPv6 client is handed a whole /64 by its provider (a home line, a cloud VM) and may send each
// request from another address of it: counted per address, it would never be held. One /64 is one
// client, as RFC 6177's assignments and every major limiter count it. An IPv4 client reaching a
// dual-stack server arrives as ::ffff:a.b.c.d and is counted as a.b.c.d, so it shares its count
// with the same address over IPv4.
import ipaddr from 'ipaddr.js';

/** The IPv6 prefix one client is held to. */
export const IPV6_CLIENT_PREFIX = 64;

/** The key a request's address is counted under: IPv4 as it is, IPv6 as its /64 network. */
export function clientAddressKey(address: string): string {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // process() turns an IPv4-mapped IPv6 address into IPv4; a zone index (%eth0) is dropped.
    parsed = ipaddr.process(address.replace(/%.*$/, ''));
  } catch {
    // Not an address (a test's made-up name, a socket path): counted as it is.
    return address;
  }
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const network = ipaddr.IPv6.networkAddressFromCIDR(`${parsed.toString()}/${IPV6_CLIENT_PREFIX}`);
  return `${network.toString()}/${IPV6_CLIENT_PREFIX}`;
}

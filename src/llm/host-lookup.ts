// The model provider's host name, looked up once for every connection opened meanwhile. Node asks
// the system resolver (getaddrinfo, which reads /etc/hosts as operators expect) again for every
// new connection, and runs at most two lookups at a time (libuv keeps half of its four threads
// for them). A burst of turns opens a connection each, so the lookups queued: with a resolver
// 20 ms away, 100 turns at once ended 0.7 s later than with an address; with a resolver whose
// first nameserver is down (5 s a lookup), six turns took 5, 10 and 15 s. Here concurrent lookups
// of one name share one, and its answer is kept for a while; a failure is never kept.
import dns, { type LookupAddress, type LookupOptions } from 'node:dns';

/** How long an answer is kept: a provider moving its addresses is followed within this. */
export const LOOKUP_TTL_MS = 30_000;
/** Names kept at most (a server talks to one provider, or a few). */
const MAX_NAMES = 64;

type Answer = (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void;
type Callback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
/** What net.connect calls, as its `lookup` option. */
export type Lookup = (hostname: string, options: LookupOptions, callback: Callback) => void;
type Resolve = (hostname: string, options: LookupOptions & { all: true }, callback: Answer) => void;

interface Kept {
  addresses: LookupAddress[];
  until: number;
}

export interface SharedLookupDeps {
  ttlMs?: number;
  now?: () => number;
  resolve?: Resolve;
}

export function sharedLookup(deps: SharedLookupDeps = {}): Lookup {
  const ttlMs = deps.ttlMs ?? LOOKUP_TTL_MS;
  const now = deps.now ?? Date.now;
  const resolve: Resolve = deps.resolve ?? ((hostname, options, callback) => dns.lookup(hostname, options, callback));
  const kept = new Map<string, Kept>();
  const asking = new Map<string, Answer[]>();

  function keep(key: string, addresses: LookupAddress[]) {
    if (kept.size >= MAX_NAMES) {
      for (const [name, entry] of kept) if (entry.until <= now()) kept.delete(name);
      if (kept.size >= MAX_NAMES) kept.delete(kept.keys().next().value!);
    }
    kept.set(key, { addresses, until: now() + ttlMs });
  }

  return (hostname, options, callback) => {
    const { all, ...rest } = options;
    const reply: Answer = (error, addresses) => {
      if (error) return callback(error, all ? [] : '');
      if (all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    };
    const key = `${JSON.stringify(rest)} ${hostname}`;
    const entry = kept.get(key);
    if (entry && entry.until > now()) {
      const { addresses } = entry;
      process.nextTick(() => reply(null, addresses));
      return;
    }
    const waiting = asking.get(key);
    if (waiting) {
      waiting.push(reply);
      return;
    }
    asking.set(key, [reply]);
    resolve(hostname, { ...rest, all: true }, (error, addresses) => {
      const replies = asking.get(key) ?? [];
      asking.delete(key);
      if (!error && addresses.length > 0) keep(key, addresses);
      const failure = error ?? Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
      for (const each of replies) each(!error && addresses.length > 0 ? null : failure, addresses);
    });
  };
}

// A name resolver that answers slowly: getaddrinfo(3), which Node's dns.lookup calls for every
// new connection to a host name, takes `delayMs` for names ending in `.resolver.test` and then
// answers 127.0.0.1, and notes each such name it was asked in a file. As a resolver whose first
// nameserver is down (5 s per lookup) or simply far away (tens of ms) does; names of other forms
// resolve as usual. Preloaded into the server (test/helpers/preload.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPreload } from './preload.js';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
  static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
  if (!real) real = (int (*)(const char *, const char *, const struct addrinfo *, struct addrinfo **))dlsym(RTLD_NEXT, "getaddrinfo");
  const char *suffix = ".resolver.test";
  size_t n = node ? strlen(node) : 0, s = strlen(suffix);
  if (n <= s || strcmp(node + n - s, suffix) != 0) return real(node, service, hints, res);
  const char *log = getenv("SLOW_RESOLVER_LOG");
  if (log) {
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd >= 0) {
      write(fd, node, n);
      write(fd, "\n", 1);
      close(fd);
    }
  }
  const char *ms = getenv("SLOW_RESOLVER_MS");
  usleep((useconds_t)(ms ? atoi(ms) : 0) * 1000);
  return real("127.0.0.1", service, hints, res);
}
`;

export interface SlowResolver {
  env(delayMs: number): Record<string, string>;
  /** The names looked up so far, one entry per lookup. */
  lookups(): string[];
  remove(): void;
}

export function slowResolver(): SlowResolver {
  const { dir, library, remove } = buildPreload('slow-resolver', SOURCE, 'resolves names slowly');
  const log = join(dir, 'lookups');
  return {
    env: (delayMs) => ({ LD_PRELOAD: library, SLOW_RESOLVER_LOG: log, SLOW_RESOLVER_MS: String(delayMs) }),
    lookups: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
    remove,
  };
}

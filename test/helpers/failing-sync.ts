// A disk whose syncs fail: what fsync(2) and fdatasync(2) answer when the kernel could not write
// a file's pages back (EIO, as a dying disk or a lost network volume gives). No device-mapper on
// these machines to fail a real device, so the failure is injected one layer up: a small library
// preloaded into the server (LD_PRELOAD) answers EIO for the files under one folder while a flag
// file exists, and passes every other call on to the C library. Node reaches both calls through
// libuv, which calls the C library's functions (test/helpers/preload.ts).
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPreload } from './preload.js';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failing(int fd) {
  const char *flag = getenv("FAILING_SYNC_FLAG");
  const char *under = getenv("FAILING_SYNC_UNDER");
  if (!flag || !under || access(flag, F_OK) != 0) return 0;
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n < 0) return 0;
  path[n] = 0;
  return strncmp(path, under, strlen(under)) == 0;
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (failing(fd)) { errno = EIO; return -1; }
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  return real(fd);
}

int fsync(int fd) {
  static int (*real)(int);
  if (failing(fd)) { errno = EIO; return -1; }
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  return real(fd);
}
`;

export interface FailingSync {
  /** The environment that puts the failure into a process: syncs of files under `under` fail while failing. */
  env(under: string): Record<string, string>;
  /** From now on every sync under the folder fails with EIO. */
  start(): void;
  /** Syncs work again. */
  stop(): void;
  remove(): void;
}

export function failingSync(): FailingSync {
  const { dir, library, remove } = buildPreload('failing-sync', SOURCE, 'fails syncs');
  const flag = join(dir, 'failing');
  return {
    env: (under) => ({ LD_PRELOAD: library, FAILING_SYNC_FLAG: flag, FAILING_SYNC_UNDER: under }),
    start: () => writeFileSync(flag, ''),
    stop: () => {
      if (existsSync(flag)) rmSync(flag);
    },
    remove,
  };
}

// A disk whose syncs fail: what fsync(2) and fdatasync(2) answer when the kernel could not write
// a file's pages back (EIO, as a dying disk or a lost network volume gives). No device-mapper on
// these machines to fail a real device, so the failure is injected one layer up: a small library
// preloaded into the server (LD_PRELOAD) answers EIO for the files under one folder while a flag
// file exists, and passes every other call on to the C library. Node reaches both calls through
// libuv, which calls the C library's functions. Built here with the machine's C compiler.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
  const dir = mkdtempSync(join(tmpdir(), 'parley-failing-sync-'));
  const library = join(dir, 'failing-sync.so');
  const flag = join(dir, 'failing');
  writeFileSync(join(dir, 'failing-sync.c'), SOURCE);
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', library, join(dir, 'failing-sync.c'), '-ldl'], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`this test builds a preloaded library that fails syncs, which needs a C compiler (cc): ${(error as Error).message}`);
  }
  return {
    env: (under) => ({ LD_PRELOAD: library, FAILING_SYNC_FLAG: flag, FAILING_SYNC_UNDER: under }),
    start: () => writeFileSync(flag, ''),
    stop: () => {
      if (existsSync(flag)) rmSync(flag);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

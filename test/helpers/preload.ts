// A small C library preloaded into a server process (LD_PRELOAD) that stands in for one C library
// function, to make a fault happen under Node where no device or service here can make it:
// libuv calls the C library's functions, so the process meets the fault as it would for real.
// Built by the test with the machine's C compiler; nothing of it is in the product.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Preload {
  /** The folder holding the library, for the helper's own files (flags, logs). */
  dir: string;
  library: string;
  remove(): void;
}

export function buildPreload(name: string, source: string, purpose: string): Preload {
  const dir = mkdtempSync(join(tmpdir(), `parley-${name}-`));
  const library = join(dir, `${name}.so`);
  writeFileSync(join(dir, `${name}.c`), source);
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', library, join(dir, `${name}.c`), '-ldl'], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`this test builds a preloaded library that ${purpose}, which needs a C compiler (cc): ${(error as Error).message}`);
  }
  return { dir, library, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

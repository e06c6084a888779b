import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { PGlite } from '@electric-sql/pglite';
import { DurableNodeFS, DURABLE_START_PARAMS, syncTree } from './pglite-durable.js';

/**
 * PostgreSQL's default 128 MB of shared buffers is sized for a server with a machine to itself;
 * inside PGlite it is WebAssembly memory the process keeps once touched, and the operating
 * system's page cache already holds the files it reads. PGlite touches the whole of its shared
 * memory at start, so every MB here is a MB of idle RSS: 16 MB kept an idle server 125 MB smaller
 * than 128 did, 8 MB another 8 MB, neither with a change in turn throughput, and a lookup that
 * misses the buffers costs little beside PGlite's own cost per statement (docs/decisions.md, issue 15).
 */
export const DEFAULT_PGLITE_SHARED_BUFFERS = '8MB';

export interface PgliteOptions {
  /** PostgreSQL's shared_buffers, as PostgreSQL writes sizes (16MB, 1GB). */
  sharedBuffers?: string;
  /** Let V8 recompile PGlite's hot WebAssembly with its optimising compiler (PGLITE_WASM_OPTIMIZE). */
  optimize?: boolean;
  /** Start from this dump of a data folder (PGlite's dumpDataDir) rather than an empty one: a restore, a test's copy of a template. */
  loadDataDir?: Blob;
  /** A folder's commits reach its disk before they are answered (PGLITE_FSYNC; pglite-durable.ts). Default true. */
  fsync?: boolean;
  /** Another database of the folder than PGlite's own (`postgres`): freezing the templates (pglite-freeze.ts). */
  database?: string;
}

const startParams = (options: PgliteOptions, durable: boolean) => [
  ...(durable ? DURABLE_START_PARAMS : PGlite.defaultStartParams),
  '-c',
  `shared_buffers=${options.sharedBuffers ?? DEFAULT_PGLITE_SHARED_BUFFERS}`,
];

/**
 * PGlite's 9 MB of WebAssembly is compiled at every start by V8's baseline compiler (Liftoff),
 * then each function PostgreSQL runs often is compiled again by the optimising one (TurboFan) on
 * background threads. PostgreSQL's own start runs enough code to set off hundreds of those: on
 * two cores they took ~1.5 s of CPU in the first seconds and ~60 MiB that the process kept,
 * for ~10% more turns a second afterwards (docs/decisions.md, issue 15). Baseline code only is the
 * default; V8 reads the flag when a module is compiled, which is why it is set just before.
 */
function compileWasmWith(optimize: boolean): void {
  setFlagsFromString(optimize ? '--no-liftoff-only' : '--liftoff-only');
}

/**
 * PGlite in memory (tests, the template's build) or in a folder. Every instance the product and
 * its tests open is made here, so each runs with the settings a server runs with.
 */
export function createPglite(dir: string | null, options: PgliteOptions = {}): PGlite {
  compileWasmWith(options.optimize ?? false);
  // In memory there is no disk to reach.
  const durable = dir !== null && (options.fsync ?? true);
  // One options object: PGlite drops its second argument when the first is not a folder.
  return new PGlite({ dataDir: dir ?? undefined, ...(durable ? { fs: new DurableNodeFS(dir) } : {}), startParams: startParams(options, durable), loadDataDir: options.loadDataDir, ...(options.database ? { database: options.database } : {}) });
}

// Both src/db and dist/db sit two levels below the package root.
export const TEMPLATE_DIR = fileURLToPath(new URL('../../generated/pglite-template/', import.meta.url));
const STAMP = 'parley-template.json';

export interface TemplateStamp {
  pglite: string;
  migrations: string[];
}

export function pgliteVersion(): string {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('@electric-sql/pglite');
  // The package's main file sits in dist/; its package.json one level up.
  const manifest = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

export function readTemplateStamp(templateDir = TEMPLATE_DIR): TemplateStamp | null {
  try {
    return JSON.parse(readFileSync(join(templateDir, STAMP), 'utf8')) as TemplateStamp;
  } catch {
    return null;
  }
}

export function writeTemplateStamp(templateDir: string, stamp: TemplateStamp): void {
  writeFileSync(join(templateDir, STAMP), `${JSON.stringify(stamp)}\n`);
}

/**
 * A new data folder starts as a copy of the database made at build time (initdb, migrations,
 * the request role): PGlite's initdb alone took 3–5 s of a first start. The copy goes to a
 * side folder that is renamed into place, so a start cut short never leaves half a database.
 * Without a usable template (another PGlite version, not built) the folder is left empty and
 * PGlite runs initdb as before.
 */
export function seedFromTemplate(dir: string, options: { templateDir?: string; sync?: boolean } = {}): boolean {
  const { templateDir = TEMPLATE_DIR, sync = true } = options;
  // Only a folder with nothing in it: whatever else is there is someone's, and not ours to replace.
  if (existsSync(dir) && readdirSync(dir).length > 0) return false;
  const stamp = readTemplateStamp(templateDir);
  if (!stamp || stamp.pglite !== pgliteVersion() || !existsSync(join(templateDir, 'PG_VERSION'))) return false;
  const side = `${dir}.seeding-${process.pid}`;
  rmSync(side, { recursive: true, force: true });
  try {
    cpSync(templateDir, side, { recursive: true, filter: (source) => !source.endsWith(STAMP) });
    // On the disk before it is renamed into place: a power loss in the first minute must not leave a
    // folder of empty files (~0.2 s of a first start; PGLITE_FSYNC=false skips it with the rest).
    if (sync) syncTree(side);
  } catch (error) {
    // A disk that is full or failing: no half copy left beside DATA_DIR's database.
    rmSync(side, { recursive: true, force: true });
    throw error;
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(side, dir);
  if (sync) syncTree(dirname(dir), { recursive: false });
  return true;
}

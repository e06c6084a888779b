// Builds dist/ when it is missing or older than any source file (the server's in src/, the
// widget's in widget/src) and the token table when missing or stale, so `npm start` always
// serves the code in the working tree. It is also `prepare` (npm ci on a fresh clone builds it
// all): `npx parley …` inside the install folder runs `prepare` too, and a full rebuild there took
// seconds each time and replaced dist/ and the database template under whatever was using them.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = join(root, 'dist', 'cli.js');
const widgetStamp = join(root, 'dist', 'widget', 'manifest.json');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

const sourcesChanged = () =>
  Math.max(
    newestMtime(join(root, 'src')),
    statSync(join(root, 'tsconfig.json')).mtimeMs,
    statSync(join(root, 'tsconfig.build.json')).mtimeMs,
  ) > statSync(stamp).mtimeMs;

if (!existsSync(stamp) || sourcesChanged()) {
  process.stdout.write('parley: building (tsc -p tsconfig.build.json)…\n');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}

// The server bundle bin/parley.js loads (scripts/build-server.js).
const bundleStamp = join(root, 'dist', 'bundle', 'cli.js');
if (!existsSync(bundleStamp) || newestMtime(join(root, 'src')) > statSync(bundleStamp).mtimeMs) {
  process.stdout.write('parley: bundling the server (scripts/build-server.js)…\n');
  execFileSync(process.execPath, [join(root, 'scripts', 'build-server.js')], { cwd: root, stdio: 'inherit' });
}

if (!existsSync(widgetStamp) || newestMtime(join(root, 'widget', 'src')) > statSync(widgetStamp).mtimeMs) {
  process.stdout.write('parley: building the widget (scripts/build-widget.js)…\n');
  execFileSync(process.execPath, [join(root, 'scripts', 'build-widget.js')], { cwd: root, stdio: 'inherit' });
}

// The token table (generated/o200k.bin): built from gpt-tokenizer's ranks by dist/llm/bpe-table.js.
const table = join(root, 'generated', 'o200k.bin');
const tableInputs = [join(root, 'src', 'llm', 'bpe-table.ts'), join(root, 'node_modules', 'gpt-tokenizer', 'package.json')];
if (!existsSync(table) || Math.max(...tableInputs.map((path) => statSync(path).mtimeMs)) > statSync(table).mtimeMs) {
  process.stdout.write('parley: building the token table (scripts/build-tokenizer.js)…\n');
  execFileSync(process.execPath, [join(root, 'scripts', 'build-tokenizer.js')], { cwd: root, stdio: 'inherit' });
}

// The database a new DATA_DIR starts from (generated/pglite-template): rebuilt when a migration
// or the PGlite version differs from what it was made with.
const templateStamp = join(root, 'generated', 'pglite-template', 'parley-template.json');
function templateCurrent() {
  if (!existsSync(templateStamp)) return false;
  const stamp = JSON.parse(readFileSync(templateStamp, 'utf8'));
  const pglite = JSON.parse(readFileSync(join(root, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')).version;
  const migrations = readdirSync(join(root, 'migrations'))
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => `${file.replace(/\.sql$/, '')}:${createHash('sha256').update(readFileSync(join(root, 'migrations', file), 'utf8')).digest('hex')}`);
  return stamp.pglite === pglite && JSON.stringify(stamp.migrations) === JSON.stringify(migrations);
}
if (!templateCurrent()) {
  process.stdout.write('parley: building the database template (scripts/build-db-template.js)…\n');
  execFileSync(process.execPath, [join(root, 'scripts', 'build-db-template.js')], { cwd: root, stdio: 'inherit' });
}

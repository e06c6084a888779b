#!/usr/bin/env node
// The test files whose run cannot depend on which database the suite is given: neither they nor
// any file under test/ they import or start (a helper, a script run as a child process) reads
// TEST_DATABASE_URL, and the product reads only DATABASE_URL. The PostgreSQL pass would run each
// of them exactly as the PGlite pass did, so .ci/run leaves them to the PGlite pass.
// Prints one path a line, relative to the repository.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const testDir = join(root, 'test');

// Any quoted relative path to a .ts or .js file: static and dynamic imports, `export … from`, and
// scripts a test starts by path (new URL('./instance-process.ts', import.meta.url)).
const REFERENCE = /['"`](\.{1,2}\/[^'"`\s]+\.(?:ts|js))['"`]/g;

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

function referenced(file) {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(REFERENCE)]
    .map((match) => resolve(dirname(file), match[1]).replace(/\.js$/, '.ts'))
    .filter((path) => path.startsWith(`${testDir}/`) && existsSync(path));
}

const verdicts = new Map();

/** Whether the file, or one it reaches, reads the database choice; a cycle reads it only through its other files. */
function readsDatabaseChoice(file, visiting = new Set()) {
  const known = verdicts.get(file);
  if (known !== undefined) return known;
  if (visiting.has(file)) return false;
  visiting.add(file);
  const reads = readFileSync(file, 'utf8').includes('TEST_DATABASE_URL') || referenced(file).some((next) => readsDatabaseChoice(next, visiting));
  visiting.delete(file);
  verdicts.set(file, reads);
  return reads;
}

const free = testFiles(testDir).sort().filter((file) => !readsDatabaseChoice(file));
// One write, so that a reader that stops early (| head) ends the listing without an EPIPE.
process.stdout.write(free.map((file) => `${relative(root, file)}\n`).join(''));

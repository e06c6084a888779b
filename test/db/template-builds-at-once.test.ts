// Two builds of the database template at once — two `npx parley …` started together on a new
// install, or `npm run build` beside a command whose ensure-build saw a migration change — both
// built in the one `<template>.building` folder: each emptied it under the other, and the template
// left behind held a live postmaster.pid, so every new DATA_DIR copied from it aborted
// ("parley: Aborted()"). Each build now has a folder of its own, and the last to finish leaves a
// whole template.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { usePglite } from '../../src/db/client.js';
import { loadMigrations } from '../../src/db/migrate.js';
import { createPglite, readTemplateStamp } from '../../src/db/pglite.js';

const root = mkdtempSync(join(tmpdir(), 'parley-template-race-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function build(into: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['scripts/build-db-template.js', into], { cwd: process.cwd() });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

describe('two template builds at once', () => {
  it('both succeed, and leave a template a new database opens with every migration', { timeout: 180_000 }, async () => {
    const template = join(root, 'template');
    const builds = await Promise.all([build(template), build(template)]);
    for (const run of builds) expect(run.code, run.output.slice(-2000)).toBe(0);

    expect(readdirSync(root)).toEqual(['template']);
    expect(existsSync(join(template, 'postmaster.pid'))).toBe(false);
    expect(readTemplateStamp(template)?.migrations).toHaveLength(loadMigrations().length);
    const copy = join(root, 'copy');
    cpSync(template, copy, { recursive: true });
    const database = await usePglite(createPglite(copy, { fsync: false }));
    try {
      const applied = await database.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM parley_migrations');
      expect(applied[0]!.n).toBe(loadMigrations().length);
    } finally {
      await database.close();
    }
    rmSync(copy, { recursive: true, force: true });
  });
});

// A `.env` saved by an editor that starts UTF-8 files with a byte order mark (Notepad did by
// default). Its first variable was read under a name starting with U+FEFF, so it was silently not
// set: a first line `DATABASE_URL=…` left Parley on the embedded database in ./data, and a first
// line `JWT_SECRET=…` refused a production start for a missing secret. The mark is not part of the name.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, cliProcesses } from '../helpers/cli-process.js';

const cli = cliProcesses();

afterAll(() => cli.cleanUp());

function doctorIn(cwd: string): Promise<string> {
  const child = spawn(process.execPath, [BIN, 'doctor'], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd }, stdio: ['ignore', 'pipe', 'ignore'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  return new Promise((resolve) => child.once('close', () => resolve(stdout)));
}

describe('a .env that starts with a byte order mark', () => {
  it('sets its first variable as written', { timeout: 60_000 }, async () => {
    const cwd = cli.tempDir('parley-env-bom-');
    const dataDir = join(cwd, 'the-first-line-says-here');
    writeFileSync(join(cwd, '.env'), `\uFEFFDATA_DIR=${dataDir}\nLOG_LEVEL=warn\n`);
    const report = await doctorIn(cwd);
    expect(report, report).toMatch(new RegExp(`^ok {4}config .*embedded PGlite in ${dataDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')},`, 'm'));
  });
});

// A server was killed (OOM, SIGKILL) and left DATA_DIR/parley.sock behind; two Parley processes
// then start on DATA_DIR at once (systemd restarting the service while the operator runs a second
// `parley serve`, or a restore). Both found the socket stale and both removed it: the loser got
// ENOENT from unlink, taken to mean "no Unix socket can be made here", and started anyway without
// the hold; or it removed the winner's new socket and bound its own. Two PostgreSQL instances on
// one set of files lose committed work (see running-server-folder.test.ts). The claim is now taken
// one process at a time. The race is not certain each time: the test tries 20 times and fails the
// first time both servers serve.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';

const url = process.env.TEST_DATABASE_URL;

/** What a killed server leaves: a socket file nobody listens on. */
function leaveStaleSocket(path: string) {
  spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  expect(existsSync(path)).toBe(true);
}

const healthy = async (base: string) => (await fetch(`${base}/health`).catch(() => null))?.ok === true;

describe.runIf(!url)('two servers starting at once on a DATA_DIR with a stale socket', () => {
  const processes = cliProcesses();
  afterAll(() => processes.cleanUp());

  it('never both serve the same embedded database', { timeout: 240_000 }, async () => {
    const dataDir = join(processes.tempDir('parley-race-'), 'data');
    expect((await processes.run(['migrate'], { DATA_DIR: dataDir })).code).toBe(0);
    const socket = join(dataDir, 'parley.sock');
    for (let attempt = 1; attempt <= 20; attempt++) {
      leaveStaleSocket(socket);
      const [a, b] = await Promise.all([serveUntilHealthy(processes, { DATA_DIR: dataDir }), serveUntilHealthy(processes, { DATA_DIR: dataDir })]);
      // The loser of a fair race has exited (refused); give it a moment if it is still on its way out.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const both = a.server.child.exitCode === null && b.server.child.exitCode === null && (await healthy(a.base)) && (await healthy(b.base));
      for (const { server } of [a, b]) server.child.kill('SIGTERM');
      await Promise.all([a.server.exited, b.server.exited]);
      const logs = `${a.server.stderr()}${a.server.stdout()}\n${b.server.stderr()}${b.server.stdout()}`;
      expect(both, `attempt ${attempt}: two servers serve DATA_DIR at once:\n${logs}`).toBe(false);
    }
  });
});

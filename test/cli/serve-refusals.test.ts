// `parley serve` that cannot run says why in one line, naming what to change, and leaves the data
// folder as it found it. A second server on a folder another process holds (a server, a restore)
// wrote a generated JWT secret there before it was refused, which a running restore then kept
// aside as its own; a port another process listens on was answered with Node's bare
// `listen EADDRINUSE: address already in use 127.0.0.1:…`, naming neither PORT nor HOST.
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { freePort } from '../helpers/ports.js';

const url = process.env.TEST_DATABASE_URL;
const SECRET = 'a-secret-of-at-least-thirty-two-bytes-for-this-test';

describe.runIf(!url)('parley serve refused', () => {
  const processes = cliProcesses();
  afterAll(() => processes.cleanUp());

  it('on a data folder a running server holds: one line, and no JWT secret written there', { timeout: 120_000 }, async () => {
    const dataDir = processes.tempDir('parley-held-serve-');
    const { server } = await serveUntilHealthy(processes, { DATA_DIR: dataDir, JWT_SECRET: SECRET });
    try {
      const second = await processes.run(['serve'], { DATA_DIR: dataDir, PORT: String(await freePort()) });
      expect(second.code, second.stderr).not.toBe(0);
      expect(second.stderr).toMatch(/in use by a running parley server/);
      expect(existsSync(join(dataDir, 'jwt-secret'))).toBe(false);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('on a port another process listens on: one line naming PORT', { timeout: 120_000 }, async () => {
    const taken = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
    try {
      const dataDir = processes.tempDir('parley-port-taken-');
      const result = await processes.run(['serve'], { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(new RegExp(`^parley: [^\\n]*127\\.0\\.0\\.1:${port}[^\\n]*PORT[^\\n]*\\n$`));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

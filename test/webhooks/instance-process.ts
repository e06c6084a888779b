// A Parley instance in a process of its own, for the crash test: it serves no HTTP, only its
// background work (the webhook worker), on the database the environment names, until it is
// killed. PARLEY_TEST_DB: a PostgreSQL URL or a PGlite folder; PARLEY_TEST_SCHEMA: the schema.
import { Writable } from 'node:stream';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { openDatabase } from '../../src/db/client.js';
import { prepareAppRole } from '../../src/db/row-security.js';

const target = process.env.PARLEY_TEST_DB!;
const isUrl = target.startsWith('postgres');
const database = await openDatabase({
  url: isUrl ? target : null,
  pgliteDir: isUrl ? null : target,
  poolMax: 2,
  searchPath: process.env.PARLEY_TEST_SCHEMA || undefined,
});
await prepareAppRole(database);
const config = loadConfig({ ...process.env, NODE_ENV: 'test' });
// Log lines go to stdout as they are written, for the test to read.
const logStream = new Writable({
  write(chunk, _encoding, done) {
    process.stdout.write(chunk, () => done());
  },
});
await buildApp({ config: { ...config, jwtSecret: 'instance-process-secret-'.repeat(3) }, database, logStream });
process.stdout.write('instance ready\n');

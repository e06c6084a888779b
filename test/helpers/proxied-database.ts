// A fresh schema on TEST_DATABASE_URL that Parley reaches through a TCP proxy (tcp-proxy.ts),
// migrated and with the app role ready: for tests that cut, refuse or hold back the link to
// PostgreSQL. PGlite runs inside the process and has no link to cut.
import { randomBytes } from 'node:crypto';
import { openDatabase, type Database } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { prepareAppRole } from '../../src/db/row-security.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export interface ProxiedDatabase {
  proxy: TcpProxy;
  database: Database;
  /** The schema's name, for `admin` to read what Parley stored in it. */
  schema: string;
  /** A direct link to the same server, not through the proxy: it reads while the proxy cuts. */
  admin: Database;
  /** After the app on it is closed: the database, the proxy, then the schema. */
  close(): Promise<void>;
}

export async function proxiedDatabase(url: string, name: string, options: { poolMax?: number } = {}): Promise<ProxiedDatabase> {
  const schema = `test_${name}_${randomBytes(5).toString('hex')}`;
  const admin = await openDatabase({ url, pgliteDir: null, poolMax: 1 });
  await admin.sql.exec(`CREATE SCHEMA ${schema}`);
  const target = new URL(url);
  const proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
  const database = await openDatabase({ url: proxy.url(url), pgliteDir: null, poolMax: options.poolMax ?? 4, searchPath: schema });
  await migrate(database.sql);
  await prepareAppRole(database);
  return {
    proxy,
    database,
    schema,
    admin,
    async close() {
      proxy.refuse(false);
      await database.close();
      await proxy.close();
      await admin.sql.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.close();
    },
  };
}

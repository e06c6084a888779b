// Builds generated/pglite-template: an embedded database already initialised, migrated and
// with its request role, which a new DATA_DIR starts as a copy of (src/db/pglite.ts).
// Run by `npm run build` after tsc, and by scripts/ensure-build.js when migrations change.
// `node scripts/build-db-template.js [folder]` builds it elsewhere (the tests' two builds at once).
import { renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

const started = performance.now();
const { createPglite, pgliteVersion, TEMPLATE_DIR, writeTemplateStamp } = await import('../dist/db/pglite.js');
const { usePglite } = await import('../dist/db/client.js');
const { loadMigrations, migrate } = await import('../dist/db/migrate.js');
const { prepareAppRole } = await import('../dist/db/row-security.js');

const dir = (process.argv[2] ? resolve(process.argv[2]) : TEMPLATE_DIR).replace(/\/$/, '');
// A folder of this build's own: two builds at once (two commands started together on a new
// install) each emptied one shared folder under the other, and left a template every new
// DATA_DIR failed to open.
const building = `${dir}.building-${process.pid}`;
rmSync(building, { recursive: true, force: true });
// Without syncs: a new DATA_DIR's copy of it is synced when it is made (seedFromTemplate).
const database = await usePglite(createPglite(building, { fsync: false }));
const migrations = loadMigrations();
await migrate(database.sql, () => {}, migrations);
await prepareAppRole(database);
// Written out now, so a copy starts without replaying the log of everything above.
await database.sql.exec('CHECKPOINT');
await database.close();
writeTemplateStamp(building, { pglite: pgliteVersion(), migrations: migrations.map((m) => `${m.id}:${m.checksum}`) });
rmSync(dir, { recursive: true, force: true });
try {
  renameSync(building, dir);
} catch (error) {
  // Another build put its whole template there since: it is as good as this one.
  if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
  rmSync(building, { recursive: true, force: true });
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
process.stdout.write(`database template: ${migrations.length} migrations applied, written to ${process.argv[2] ?? 'generated/pglite-template'} in ${seconds}s\n`);

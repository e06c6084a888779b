// Builds generated/pglite-template: an embedded database already initialised, migrated and
// with its request role, which a new DATA_DIR starts as a copy of (src/db/pglite.ts).
// Run by `npm run build` after tsc, and by scripts/ensure-build.js when migrations change.
import { renameSync, rmSync } from 'node:fs';

const started = performance.now();
const { createPglite, pgliteVersion, TEMPLATE_DIR, writeTemplateStamp } = await import('../dist/db/pglite.js');
const { usePglite } = await import('../dist/db/client.js');
const { loadMigrations, migrate } = await import('../dist/db/migrate.js');
const { prepareAppRole } = await import('../dist/db/row-security.js');

const dir = TEMPLATE_DIR.replace(/\/$/, '');
const building = `${dir}.building`;
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
renameSync(building, dir);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
process.stdout.write(`database template: ${migrations.length} migrations applied, written to generated/pglite-template in ${seconds}s\n`);

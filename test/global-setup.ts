import { execFileSync } from 'node:child_process';

// CLI tests run bin/parley.js, which loads dist/: build it when sources are newer.
export default function setup(): void {
  execFileSync(process.execPath, ['scripts/ensure-build.js'], { stdio: 'inherit' });
  const target = process.env.TEST_DATABASE_URL ? `PostgreSQL (${new URL(process.env.TEST_DATABASE_URL).host})` : 'PGlite (in memory)';
  process.stdout.write(`database tests run on ${target}\n`);
}

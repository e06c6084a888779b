// Bundles the server (dist/bundle/, from src/ with esbuild) for `parley`: loading tsc's output
// meant opening ~900 files at every start, 683 of them TypeBox's, which took about a second of a
// two-core machine; Fastify, Ajv, prom-client and the rest of the CommonJS packages cost another
// ~0.2 s of resolving and reading ~300 files. Every package goes into the bundle except those in
// OUTSIDE: ones that find files beside their own code (PGlite's WebAssembly, Swagger UI's assets,
// pino's transports, which run in worker threads by file name), native ones (argon2, bcrypt), postgres.js
// (whose modules db/postgres-driver.ts patches) and ioredis (loaded only with REDIS_URL). The bundle sits two
// folders below the package root, as src/db and dist/db do, so paths written relative to a module
// (migrations, generated/, package.json) hold for it too.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'bundle');
const OUTSIDE = new Set(['@electric-sql/pglite', '@fastify/swagger', '@fastify/swagger-ui', 'pino', 'pino-pretty', '@node-rs/argon2', '@node-rs/bcrypt', 'postgres', 'ioredis']);

const started = performance.now();
rmSync(out, { recursive: true, force: true });
const result = await build({
  entryPoints: {
    cli: join(root, 'src', 'cli.ts'),
    // The chunking worker is started by file name from beside the chunker's code.
    'chunk-worker': join(root, 'src', 'features', 'knowledge', 'chunk-worker.ts'),
  },
  outdir: out,
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
  // CommonJS code in an ES module: its require() of Node's modules and of the packages left outside.
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
  plugins: [
    {
      name: 'node-modules-outside',
      setup(builder) {
        builder.onResolve({ filter: /^[^./]/ }, (args) => {
          if (args.path.startsWith('node:')) return { external: true };
          const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
          return OUTSIDE.has(name) ? { external: true } : undefined;
        });
      },
    },
  ],
});
const files = Object.keys(result.metafile.outputs).filter((file) => file.endsWith('.js'));
const bytes = files.reduce((sum, file) => sum + result.metafile.outputs[file].bytes, 0);
process.stdout.write(`server bundle: dist/bundle/ ${files.length} files, ${(bytes / 1024 / 1024).toFixed(2)} MiB, in ${((performance.now() - started) / 1000).toFixed(1)}s\n`);

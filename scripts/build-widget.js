// Builds the widget (widget/src) for browsers with esbuild: the loader every host page loads
// (dist/widget/widget.js) and the panel it fetches on first use, under a content-hashed name so
// it can be cached for a year. Fails, writing nothing, when either grows past its gzip budget:
// the loader is paid for on every page view of every host site, whether or not anyone chats.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'widget');
const BUDGET = { loader: 6 * 1024, panel: 30 * 1024 };
// Browsers of the last few years, Safari 15 included (iOS visitors).
const target = ['chrome100', 'firefox100', 'safari15', 'edge100'];

async function bundle(entry, format, define = {}) {
  const result = await build({
    entryPoints: [join(root, 'widget', 'src', entry)],
    bundle: true,
    minify: true,
    format,
    target,
    define,
    write: false,
    legalComments: 'none',
    charset: 'utf8',
  });
  return Buffer.from(result.outputFiles[0].contents);
}

const kib = (n) => `${(n / 1024).toFixed(2)} KiB`;

const panel = await bundle('panel.ts', 'esm');
const panelFile = `panel.${createHash('sha256').update(panel).digest('hex').slice(0, 12)}.js`;
const loader = await bundle('loader.ts', 'iife', { PANEL_FILE: JSON.stringify(panelFile) });
const sizes = { loader: gzipSync(loader, { level: 9 }).length, panel: gzipSync(panel, { level: 9 }).length };

process.stdout.write(
  `widget: widget.js ${kib(loader.length)} (${kib(sizes.loader)} gzip, budget ${kib(BUDGET.loader)}), ` +
    `${panelFile} ${kib(panel.length)} (${kib(sizes.panel)} gzip, budget ${kib(BUDGET.panel)})\n`,
);
const over = Object.entries(BUDGET).filter(([part, limit]) => sizes[part] > limit);
if (over.length > 0) {
  for (const [part, limit] of over) process.stderr.write(`widget: ${part} is ${kib(sizes[part])} gzip, over its budget of ${kib(limit)}: nothing written\n`);
  process.exit(1);
}

mkdirSync(out, { recursive: true });
for (const name of readdirSync(out)) rmSync(join(out, name));
writeFileSync(join(out, 'widget.js'), loader);
writeFileSync(join(out, panelFile), panel);
const version = createHash('sha256').update(loader).update(panel).digest('hex').slice(0, 12);
writeFileSync(join(out, 'manifest.json'), JSON.stringify({ version, loader: 'widget.js', panel: panelFile, gzip: sizes }, null, 2));

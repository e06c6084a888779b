// Builds dist/ when it is missing or older than any source file (the server's in src/, the
// widget's in widget/src), so `npm start` always serves the code in the working tree.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = join(root, 'dist', 'cli.js');
const widgetStamp = join(root, 'dist', 'widget', 'manifest.json');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

const sourcesChanged = () =>
  Math.max(
    newestMtime(join(root, 'src')),
    statSync(join(root, 'tsconfig.json')).mtimeMs,
    statSync(join(root, 'tsconfig.build.json')).mtimeMs,
  ) > statSync(stamp).mtimeMs;

if (!existsSync(stamp) || sourcesChanged()) {
  process.stdout.write('parley: building (tsc -p tsconfig.build.json)…\n');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}

if (!existsSync(widgetStamp) || newestMtime(join(root, 'widget', 'src')) > statSync(widgetStamp).mtimeMs) {
  process.stdout.write('parley: building the widget (scripts/build-widget.js)…\n');
  execFileSync(process.execPath, [join(root, 'scripts', 'build-widget.js')], { cwd: root, stdio: 'inherit' });
}

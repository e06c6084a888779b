// The built widget (scripts/build-widget.js writes dist/widget): read once, compressed once, and
// answered from memory with a strong ETag. widget.js is the one unversioned URL (host pages name
// it), so caches revalidate it after a few minutes; the panel's name carries its content hash and
// is cached for a year.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { PACKAGE_ROOT } from '../../lib/package-root.js';

export interface Asset {
  type: string;
  /**
   * A strong ETag for each form: a compressed copy is another representation (RFC 9110 §8.8.3),
   * and a cache revalidating one form must not be told, by a 304, that another form will do.
   */
  etags: Record<'identity' | 'gzip' | 'br', string>;
  cacheControl: string;
  identity: Buffer;
  gzip: Buffer;
  br: Buffer;
}

export interface WidgetAssets {
  /** `widget.js` or the panel's hashed name; undefined for anything else (or when not built). */
  get(name: string): Asset | undefined;
  /** Why the widget cannot be served, when it cannot. */
  readonly missing: string | null;
}

const LOADER_CACHE = 'public, max-age=300, stale-while-revalidate=86400';
const VERSIONED_CACHE = 'public, max-age=31536000, immutable';

/**
 * Each compressed form is made on the first request that asks for it: brotli at quality 11 took
 * about 150 ms of every start-up, for a widget many instances never serve.
 */
function asset(body: Buffer, cacheControl: string): Asset {
  let gzip: Buffer | undefined;
  let br: Buffer | undefined;
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 22);
  return {
    type: 'text/javascript; charset=utf-8',
    etags: { identity: `"${hash}"`, gzip: `"${hash}-gzip"`, br: `"${hash}-br"` },
    cacheControl,
    identity: body,
    get gzip() {
      return (gzip ??= gzipSync(body, { level: 9 }));
    },
    get br() {
      return (br ??= brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
    },
  };
}

/** Where the build puts the widget: the package's dist/widget, whether the server runs from src/, dist/ or the bundle. */
export const WIDGET_DIR = new URL('dist/widget/', PACKAGE_ROOT);

const loaded = new Map<string, WidgetAssets>();

/** Read and compressed once per process (every app instance of a process serves the same build). */
export function loadWidgetAssets(dir: URL = WIDGET_DIR): WidgetAssets {
  let assets = loaded.get(dir.href);
  if (!assets) {
    assets = readWidget(dir);
    if (!assets.missing) loaded.set(dir.href, assets);
  }
  return assets;
}

function readWidget(dir: URL): WidgetAssets {
  let manifest: { loader: string; panel: string };
  try {
    manifest = JSON.parse(readFileSync(new URL('manifest.json', dir), 'utf8')) as { loader: string; panel: string };
  } catch {
    return { get: () => undefined, missing: `the widget is not built (no ${new URL('manifest.json', dir).pathname}): run npm run build` };
  }
  const files = new Map<string, Asset>([
    ['widget.js', asset(readFileSync(new URL(manifest.loader, dir)), LOADER_CACHE)],
    [manifest.panel, asset(readFileSync(new URL(manifest.panel, dir)), VERSIONED_CACHE)],
  ]);
  return { get: (name) => files.get(name), missing: null };
}

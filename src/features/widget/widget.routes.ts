// The widget's files (§7, GET /widget.js and the panel it loads) and the hosted chat page
// (GET /c/{slug}). Static files are answered from memory: compressed as the client accepts,
// 304 for a matching ETag, and readable from any origin (host pages load them cross-origin).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../errors/app-error.js';
import type { App } from '../../http/types.js';
import type { PublicDirectory } from '../public/public-directory.js';
import type { PublicGuard } from '../public/public-guard.js';
import { chatbotKey } from '../public/public-chatbots.service.js';
import { perChatbotCors } from '../public/public.routes.js';
import { busyPage, hostedPage, hostedPageCsp, notFoundPage, pageLanguage } from './hosted-page.js';
import type { Asset, WidgetAssets } from './widget-assets.js';

const tags = ['widget'];

/**
 * The qvalue the client gives each coding it names (RFC 9110 §12.5.3); `*` stands for every
 * coding not named. A malformed qvalue counts as a refusal.
 */
function codingWeights(header: string): (coding: string) => number {
  const weights = new Map<string, number>();
  for (const part of header.toLowerCase().split(',')) {
    const [name = '', ...params] = part.split(';').map((p) => p.trim());
    const q = params.find((p) => p.startsWith('q='));
    if (name) weights.set(name, q === undefined ? 1 : Number(q.slice(2)) || 0);
  }
  return (coding) => weights.get(coding) ?? weights.get('*') ?? 0;
}

/** The client's preferred of brotli and gzip (brotli on a tie: it is the smaller), or none. */
function encodingFor(request: FastifyRequest): 'br' | 'gzip' | null {
  const weight = codingWeights(request.headers['accept-encoding'] ?? '');
  const [br, gzip] = [weight('br'), weight('gzip')];
  if (br > 0 && br >= gzip) return 'br';
  return gzip > 0 ? 'gzip' : null;
}

function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset) {
  const encoding = encodingFor(request);
  const etag = asset.etags[encoding ?? 'identity'];
  reply
    .header('content-type', asset.type)
    .header('cache-control', asset.cacheControl)
    .header('etag', etag)
    .header('vary', 'accept-encoding')
    .header('access-control-allow-origin', '*')
    .header('cross-origin-resource-policy', 'cross-origin')
    // Host sites may see how long the widget took to load in their own monitoring.
    .header('timing-allow-origin', '*')
    .header('x-content-type-options', 'nosniff');
  const tags = (request.headers['if-none-match'] ?? '').split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (tags.includes(etag) || tags.includes('*')) return reply.code(304).send();
  if (encoding) reply.header('content-encoding', encoding);
  return reply.send(encoding === 'br' ? asset.br : encoding === 'gzip' ? asset.gzip : asset.identity);
}

/** The address's public limit, refused as a page a person can read (Retry-After as the API's 429). */
async function limitPageView(guard: PublicGuard, request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  try {
    await guard.limitAddress(request);
    return true;
  } catch (error) {
    const wait = error instanceof AppError ? error.rateLimit?.resetSeconds : undefined;
    if (wait === undefined) throw error;
    reply.code(429).header('retry-after', String(wait)).header('content-security-policy', "default-src 'none'; frame-ancestors 'none'").send(busyPage(wait));
    return false;
  }
}

const NOT_FOUND_PAGE_CSP = "default-src 'none'; frame-ancestors 'none'";

function pageHeaders(reply: FastifyReply): FastifyReply {
  return reply.header('content-type', 'text/html; charset=utf-8').header('x-content-type-options', 'nosniff').header('referrer-policy', 'strict-origin-when-cross-origin');
}

/** Where the hosted chat pages live: a GET there is a person's address bar. */
export const HOSTED_PAGE_PREFIX = '/c/';

export const sendNotFoundPage = (reply: FastifyReply) => pageHeaders(reply).code(404).header('content-security-policy', NOT_FOUND_PAGE_CSP).send(notFoundPage());

// Bytes a request line may carry that a Location header must not (spaces, controls, non-ASCII):
// written as %XX so the query reaches the page as it was sent.
const percentEncodeUnsafe = (text: string) => text.replace(/[^\x21-\x7e]/g, (c) => (c.charCodeAt(0) > 0xff ? encodeURIComponent(c) : `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`));

/**
 * Where `/c/{key}/` (a link typed or pasted with a slash) moves to: the page's one address, with
 * the query as sent. Only a key that can name a chatbot (letters, digits, dashes) is written
 * into the Location, so it always stays a path under /c/ on this site; anything else is null.
 */
export function unslashedPageAddress(url: string): string | null {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = queryAt === -1 ? '' : url.slice(queryAt + 1);
  const segment = /^\/c\/([^/]+)\/$/.exec(path)?.[1];
  if (segment === undefined) return null;
  let key: string;
  try {
    key = decodeURIComponent(segment);
  } catch {
    return null;
  }
  if (!chatbotKey(key)) return null;
  return query ? `/c/${key}?${percentEncodeUnsafe(query)}` : `/c/${key}`;
}

export function registerWidgetRoutes(app: App, deps: { assets: WidgetAssets; directory: PublicDirectory; guard: PublicGuard }): void {
  const { assets, directory, guard } = deps;

  function file(name: string): Asset {
    if (assets.missing) throw new AppError('service_unavailable', 'The widget is not built on this server');
    const asset = assets.get(name);
    if (!asset) throw new AppError('not_found', 'No such widget file');
    return asset;
  }

  app.get(
    '/widget.js',
    {
      config: perChatbotCors,
      schema: {
        tags,
        security: [],
        summary: 'The embeddable widget: <script src=".../widget.js" data-chatbot="slug" async></script>',
        description: 'A small loader (no framework): draws the chat launcher in a Shadow DOM and loads the panel on first use. Cached for 5 minutes, then revalidated by ETag.',
      },
    },
    async (request, reply) => sendAsset(request, reply, file('widget.js')),
  );

  app.get(
    '/widget/:file',
    {
      config: perChatbotCors,
      schema: { tags, security: [], hide: true, params: Type.Object({ file: Type.String({ maxLength: 100 }) }) },
    },
    async (request, reply) => sendAsset(request, reply, file(request.params.file)),
  );

  app.get(
    '/c/:chatbot',
    {
      config: perChatbotCors,
      schema: {
        tags,
        security: [],
        summary: 'A public chatbot as a full chat page',
        description: "Server-rendered page that runs the widget full-window. 404 for a private or unknown chatbot. Its frame-ancestors follow the chatbot's allowed_origins.",
        params: Type.Object({ chatbot: Type.String({ description: 'Slug or id' }) }),
      },
    },
    async (request, reply) => {
      pageHeaders(reply);
      // Counted before the chatbot is looked up: made-up names would otherwise be a free query each.
      if (!(await limitPageView(guard, request, reply))) return reply;
      const key = chatbotKey(request.params.chatbot);
      const chatbot = key ? await directory.find(key) : undefined;
      if (!chatbot) return sendNotFoundPage(reply);
      return reply
        .header('content-security-policy', hostedPageCsp(chatbot))
        .header('cache-control', 'no-cache')
        .header('vary', 'accept-language')
        .send(hostedPage(chatbot, pageLanguage(request.headers['accept-language'])));
    },
  );

  // Every other GET under /c/ is a person's address bar: a trailing slash (308, permanent and
  // method-keeping, so links and caches settle on one address) or the page's own "not found",
  // never the API's JSON. The wildcard also takes a key past the router's 100-character limit
  // on a path segment, which would otherwise be the API's problem+json.
  app.get('/c', { config: perChatbotCors, schema: { hide: true } }, async (_request, reply) => sendNotFoundPage(reply));
  app.get('/c/*', { config: perChatbotCors, schema: { hide: true } }, async (request, reply) => {
    const target = unslashedPageAddress(request.url);
    return target ? reply.redirect(target, 308) : sendNotFoundPage(reply);
  });
}

// The stage of the hosted page's address tests: an app listening on a real port, so a path reaches
// the server exactly as a browser or a script sends it (the in-process client tidies paths such as
// "/c/%2e%2e" or "//x" first), with the public limits out of the way of many requests in a row.
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Env } from '../../src/config/config.js';
import { createTestApp, type TestApp } from './app.js';

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HostedPageStage {
  t: TestApp;
  /** One request with its path sent exactly as written (no client-side normalising). */
  raw(path: string, method?: string, headers?: Record<string, string>): Promise<RawAnswer>;
  /** The page's own answer for an address naming no chatbot, which every wrong address under /c/ should match. */
  unknownPage(method?: string): Promise<RawAnswer>;
  close(): Promise<void>;
}

const RELAXED_PUBLIC_LIMITS: Env = { RATE_LIMIT_PUBLIC_IP: '100000/1m', RATE_LIMIT_PUBLIC_VISITOR: '100000/1m', RATE_LIMIT_PUBLIC_CHATBOT: '100000/1m' };

export async function openHostedPageStage(env: Env = {}): Promise<HostedPageStage> {
  const t = await createTestApp({ ...RELAXED_PUBLIC_LIMITS, ...env });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = t.app.server.address() as AddressInfo;

  function raw(path: string, method = 'GET', headers: Record<string, string> = {}): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, method, headers, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer for ${path}`)));
      req.on('error', reject);
      req.end();
    });
  }

  return { t, raw, unknownPage: (method = 'GET') => raw('/c/no-such-chatbot', method), close: () => t.close() };
}

// One GET /health over a fresh connection, for tests that check the server keeps answering while
// it does something heavy; resolves with how long the answer took.
import { request } from 'node:http';

export function timedHealth(base: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(`${base}/health`, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`health ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

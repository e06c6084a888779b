// The framing Parley follows on its Redis connections, to cut one that announces or sends more than
// any reply Parley asks for, before ioredis reads it all into memory.
import { describe, expect, it } from 'vitest';
import { createReplyScanner } from '../../src/lib/redis-replies.js';

const limits = { reply: 1024, line: 64 };

/** Feeds `text` to a new scanner in pieces of `size` bytes; the first problem's message, or null. */
function scan(text: string | Buffer, size: number): string | null {
  const next = createReplyScanner(limits);
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1');
  for (let at = 0; at < bytes.length; at += size) {
    const problem = next(bytes.subarray(at, at + size));
    if (problem) return problem.message;
  }
  return null;
}

const everyPieceSize = (text: string | Buffer) => [1, 2, 3, 7, 64, 100_000].map((size) => scan(text, size));

describe('the scan of what Redis sends', () => {
  it('lets through what Redis answers Parley, however the bytes are split', () => {
    const bulk = 'x'.repeat(1024);
    const replies = [
      '+PONG\r\n',
      ':17\r\n',
      '-ERR unknown command\r\n',
      `$${bulk.length}\r\n${bulk}\r\n`,
      '$-1\r\n',
      '$0\r\n\r\n',
      '*-1\r\n',
      '*2\r\n:3\r\n:60000\r\n',
      // A pub/sub message, its payload holding "$99999" and a line break, which are bytes of the bulk and no header.
      '*3\r\n$7\r\nmessage\r\n$17\r\nparley:revocation\r\n$20\r\n$99999\r\n*7\r\n+x\r\n:1\r\n',
    ].join('');
    expect(everyPieceSize(replies)).toEqual([null, null, null, null, null, null]);
  });

  it('cuts a reply that announces more than the limit, as soon as its length is read', () => {
    expect(everyPieceSize('+OK\r\n$99999999999\r\n')).toEqual(
      Array(6).fill('announced a reply of 99,999,999,999 bytes, more than the 0 MB Parley takes (its replies from Redis are a few kB)'),
    );
    expect(scan('*2\r\n$3\r\nabc\r\n$1025\r\n', 3)).toMatch(/announced a reply of 1,025 bytes/);
  });

  it('cuts a line that never ends', () => {
    expect(scan(`+${'x'.repeat(100)}`, 10)).toBe('sent a reply line of more than 0.0625 kB, which Redis never sends Parley');
    expect(scan(`:1\r\n+${'x'.repeat(62)}\r\n`, 5)).toBeNull(); // 64 bytes with its line break
  });
});

// API keys carry a CRC-32 of their random part (§12), computed here rather than by node:zlib,
// which has it only from Node 20.15: it must be zlib's, or keys made before would fail their check.
import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/lib/crc32.js';

describe('crc32', () => {
  it("is zlib's CRC-32, on the check string and on random text", () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32('')).toBe(0);
    for (let i = 0; i < 2_000; i++) {
      const text = randomBytes(1 + (i % 64)).toString(i % 3 === 0 ? 'base64url' : 'latin1');
      expect(crc32(text)).toBe(zlib.crc32(text));
    }
  });
});

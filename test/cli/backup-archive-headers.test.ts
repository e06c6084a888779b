// A backup's archive gives each file's size in a 12-byte header field: 11 octal digits and a NUL,
// at most 8 GiB − 1. A database file past that was written with 12 or more digits and no NUL, and
// past 64 GiB with its leading digits cut off: a restore read another size, and every entry after
// it as garbage. Sizes from 8 GiB on are written as GNU tar writes them (base-256: the field's
// first byte 0x80, then the size in big-endian binary), and a restore reads them; smaller ones are
// written as before. A header's other limit, the 100-byte name field, is refused by name.
import { describe, expect, it } from 'vitest';
import { tarHeader } from '../../src/features/backup/tar-folder.js';
import { parseHeader, UntarError } from '../../src/features/backup/untar-folder.js';

const GiB = 1024 ** 3;
const header = (size: number, name = '/base/1/16384') => tarHeader({ name, mode: 0o600, size, mtimeMs: Date.UTC(2026, 0, 1), directory: false });

/** A header as another writer made it, with its checksum made right for the bytes given. */
function withSizeField(field: Buffer): Buffer {
  const block = header(0);
  field.copy(block, 124);
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

describe("a backup archive's file sizes", () => {
  it.each([0, 1, 8 * GiB - 1])('writes %d bytes as octal digits and a NUL, as before', (size) => {
    const block = header(size);
    expect(block.subarray(124, 136).toString('latin1')).toBe(`${size.toString(8).padStart(11, '0')}\0`);
    expect(parseHeader(block)).toMatchObject({ name: '/base/1/16384', kind: 'file', size });
  });

  it.each([8 * GiB, 8 * GiB + 1, 64 * GiB + 7, 1024 ** 4 * 3 + 5, Number.MAX_SAFE_INTEGER])('writes %d bytes in base-256 and reads them back', (size) => {
    const block = header(size);
    expect(block[124]).toBe(0x80);
    expect(block.readBigUInt64BE(128)).toBe(BigInt(size));
    expect(parseHeader(block)).toMatchObject({ name: '/base/1/16384', kind: 'file', size });
  });

  it("reads a base-256 size GNU tar wrote, leading zero bytes and all", () => {
    const field = Buffer.alloc(12);
    field[0] = 0x80;
    field.writeUIntBE(10 * GiB, 6, 6);
    expect(parseHeader(withSizeField(field)).size).toBe(10 * GiB);
  });

  it.each([
    ['negative', Buffer.from([0xff, ...Array(11).fill(0xff)])],
    ['past what a file can hold', Buffer.from([0x80, 0, 0, 0x01, ...Array(8).fill(0)])],
  ])('refuses a base-256 size that is %s, naming the entry', (_what, field) => {
    expect(() => parseHeader(withSizeField(field))).toThrow(UntarError);
    expect(() => parseHeader(withSizeField(field))).toThrow(/\/base\/1\/16384/);
  });

  it('refuses a size that is not a number', () => {
    expect(() => parseHeader(withSizeField(Buffer.from('0000000009x\0', 'latin1')))).toThrow(/malformed header/);
  });

  it('refuses by name a path longer than the name field, writing nothing for it', () => {
    const name = `/base/1/${'a'.repeat(100)}`;
    expect(() => header(1, name)).toThrow(`the path ${name} is too long for the backup's archive`);
    expect(parseHeader(header(1, `/${'a'.repeat(98)}`)).name).toBe(`/${'a'.repeat(98)}`);
  });
});

// The key format (§3.3, §12): `parley_sk_` + 30 base62 characters + 6 base62 characters of the
// CRC32 of those 30, as GitHub's tokens are made. The checksum lets a mistyped or forged key be
// refused without touching the database, and the fixed shape lets secret scanners find leaked
// ones (README: the regex for gitleaks and trufflehog).
import { createHash, randomInt } from 'node:crypto';
import { crc32 } from '../../lib/crc32.js';

export const KEY_PREFIX = 'parley_sk_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 30;
const CHECKSUM_LENGTH = 6;
/** The part of a key shown in lists: the type prefix and four random characters. */
export const DISPLAY_PREFIX_LENGTH = 14;
const KEY_SHAPE = /^parley_sk_([0-9A-Za-z]{30})([0-9A-Za-z]{6})$/;

/** Base62 in ASCII order, left-padded with `0` to six characters (2^32 < 62^6). */
export function base62Checksum(body: string): string {
  let value = crc32(body);
  let digits = '';
  while (value > 0) {
    digits = ALPHABET[value % 62]! + digits;
    value = Math.floor(value / 62);
  }
  return digits.padStart(CHECKSUM_LENGTH, '0');
}

export function generateKey(): string {
  let body = '';
  // randomInt is uniform over the alphabet: no modulo bias.
  for (let i = 0; i < RANDOM_LENGTH; i++) body += ALPHABET[randomInt(62)];
  return `${KEY_PREFIX}${body}${base62Checksum(body)}`;
}

/** Whether the token has the key's type prefix (it is a key, valid or not). */
export const looksLikeKey = (token: string): boolean => token.startsWith(KEY_PREFIX);

/** Whether the key's shape and checksum hold: no I/O. */
export function checksumHolds(token: string): boolean {
  const match = KEY_SHAPE.exec(token);
  return match !== null && base62Checksum(match[1]!) === match[2];
}

/** Text with every key's secret masked: for what is echoed to a caller that put a key where a name belongs. */
export const maskKeys = (text: string): string => text.replace(/parley_sk_[0-9A-Za-z]*/g, `${KEY_PREFIX}…`);

export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');
export const displayPrefix = (key: string): string => key.slice(0, DISPLAY_PREFIX_LENGTH);

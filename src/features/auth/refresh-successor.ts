// A refresh token presented again within the reuse grace is answered with the token that replaced
// it (§12: "the session's current tokens"), not a new one: a new one per replay let a stolen token
// fork a branch of the session that rotation never catches. So the successor must be readable
// later, but only by whoever holds the predecessor. It is sealed (AES-256-GCM) with a key derived
// from the predecessor token itself, which the database never holds (it keeps a SHA-256 of it,
// from which this key cannot be made): a leaked database, even with JWT_SECRET, opens nothing.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const SALT = 'parley refresh successor';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const keyOf = (predecessor: string) => Buffer.from(hkdfSync('sha256', predecessor, SALT, 'aes-256-gcm', 32));

/** `successor`, readable only with `predecessor` (the token it replaced). */
export function sealSuccessor(successor: string, predecessor: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyOf(predecessor), iv);
  const sealed = Buffer.concat([cipher.update(successor, 'utf8'), cipher.final()]);
  return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url')}`;
}

/** The successor sealed for `predecessor`, or null when it was sealed for another token or altered. */
export function openSuccessor(sealed: string, predecessor: string): string | null {
  const [version, body] = sealed.split('.');
  if (version !== VERSION || !body) return null;
  const bytes = Buffer.from(body, 'base64url');
  if (bytes.length <= IV_BYTES + TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyOf(predecessor), bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

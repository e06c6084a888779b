// ioredis keeps a reply in memory until it has all of it, and takes the length a bulk reply
// announces on trust: something at REDIS_URL that answered `$99999999999` and then bytes (a wrong
// port, a broken proxy, a hostile peer) grew `parley doctor` to 1.3 GB in two seconds, and the
// server's own clients the same. Parley's replies from Redis are counters, PONG, a few kB of INFO
// and short pub/sub messages; a connection announcing more than REPLY_LIMIT_BYTES, or a line
// longer than LINE_LIMIT_BYTES, is cut at once, before ioredis reads the rest. The scanner follows
// RESP's framing only (a type byte, a line, a bulk's bytes): arrays are their header line followed
// by their elements, so it needs no nesting.
import type { Redis } from 'ioredis';

export const REPLY_LIMIT_BYTES = 4 * 1024 * 1024;
export const LINE_LIMIT_BYTES = 64 * 1024;

/** A connection cut because what answered sent more than Parley ever asks Redis for. */
export class RedisReplyTooLarge extends Error {
  override name = 'RedisReplyTooLarge';
}

// Types whose line is a length followed by that many bytes: bulk strings, and RESP3's verbatim
// strings and bulk errors.
const DOLLAR = 0x24;
const EQUALS = 0x3d;
const BANG = 0x21;
const NEWLINE = 0x0a;

const megabytes = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

/** Follows a connection's bytes in order; returns the error to cut it with, or null while all is well. */
export function createReplyScanner(limits = { reply: REPLY_LIMIT_BYTES, line: LINE_LIMIT_BYTES }): (chunk: Buffer) => RedisReplyTooLarge | null {
  let state: 'type' | 'line' | 'bytes' = 'type';
  let announcesLength = false;
  let line = '';
  let lineBytes = 0;
  let left = 0;
  return (chunk) => {
    let at = 0;
    while (at < chunk.length) {
      if (state === 'bytes') {
        const taken = Math.min(left, chunk.length - at);
        left -= taken;
        at += taken;
        if (left === 0) state = 'type';
        continue;
      }
      if (state === 'type') {
        const type = chunk[at]!;
        announcesLength = type === DOLLAR || type === EQUALS || type === BANG;
        line = '';
        lineBytes = 0;
        state = 'line';
        at += 1;
        continue;
      }
      const end = chunk.indexOf(NEWLINE, at);
      const stop = end === -1 ? chunk.length : end + 1;
      lineBytes += stop - at;
      if (lineBytes > limits.line) return new RedisReplyTooLarge(`sent a reply line of more than ${limits.line / 1024} kB, which Redis never sends Parley`);
      if (announcesLength) line += chunk.toString('latin1', at, stop);
      at = stop;
      if (end === -1) continue;
      state = 'type';
      if (!announcesLength) continue;
      const length = Number.parseInt(line, 10);
      if (length > limits.reply) {
        return new RedisReplyTooLarge(`announced a reply of ${length.toLocaleString('en-US')} bytes, more than the ${megabytes(limits.reply)} Parley takes (its replies from Redis are a few kB)`);
      }
      if (length >= 0) {
        left = length + 2;
        state = 'bytes';
      }
    }
    return null;
  };
}

/**
 * Watches every connection `redis` makes: each is cut, with a RedisReplyTooLarge as its error, as
 * soon as it announces or sends more than Parley takes. ioredis then reports the error and
 * reconnects as it does after any other cut.
 */
export function limitRedisReplies(redis: Redis): Redis {
  // 'connect' comes before ioredis sends its first command on the new connection.
  redis.on('connect', () => {
    const stream = redis.stream;
    const scan = createReplyScanner();
    const watch = (chunk: Buffer) => {
      const problem = scan(chunk);
      if (!problem) return;
      stream.removeListener('data', watch);
      stream.destroy(problem);
    };
    stream.on('data', watch);
  });
  return redis;
}

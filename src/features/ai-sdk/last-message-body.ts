// POST /v1/ai-sdk/chat reads its body through LastMessageScanner (last-message-scanner.ts): useChat's
// DefaultChatTransport sends the chat's whole history every time, and a long chat's passed
// BODY_LIMIT (130 exchanges of 8 KB replies: 1.1 MB), so every message after was refused 413. The
// route reads up to WHOLE_HISTORY_FACTOR times BODY_LIMIT; what is kept of it (all but the earlier
// messages) is held to BODY_LIMIT, then parsed by the server's JSON parser as any body is.
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { notReadableAsSent } from '../../http/body-parsers.js';
import { LastMessageScanner, tooLarge } from './last-message-scanner.js';

/** How many times BODY_LIMIT the route reads, earlier messages included (64 MiB by default). */
export const WHOLE_HISTORY_FACTOR = 64;

export const wholeHistoryLimit = (bodyLimit: number) => WHOLE_HISTORY_FACTOR * bodyLimit;

/** Whether the body's bytes are its JSON as sent (no content coding, UTF-8): only then is it read as it comes; what the server's parsers refuse (415) is kept as sent, for them to refuse. */
export const readableAsSent = (headers: FastifyRequest['headers']): boolean => notReadableAsSent(headers) === null;

/**
 * The request's body as the scanner keeps it. It starts reading the request when first read (a
 * body no parser takes, answered 415, is never read), and tells Fastify the bytes it read
 * (`receivedEncodedLength`), which Fastify checks against the route's limit and Content-Length.
 */
class KeptBody extends Readable {
  receivedEncodedLength = 0;
  private listening = false;
  private readonly onData = (chunk: Buffer) => this.scanChunk(chunk);
  private readonly onEnd = () => this.finish();
  private readonly onError = (error: Error) => this.stop(error);

  constructor(
    private readonly source: Readable,
    private readonly scanner: LastMessageScanner,
    private readonly readLimit: number,
  ) {
    super();
  }

  override _read(): void {
    if (this.listening) {
      this.source.resume();
      return;
    }
    this.listening = true;
    this.source.on('data', this.onData);
    this.source.on('end', this.onEnd);
    this.source.on('error', this.onError);
  }

  private scanChunk(chunk: Buffer): void {
    this.receivedEncodedLength += chunk.length;
    let parts: Buffer[];
    try {
      if (this.receivedEncodedLength > this.readLimit) throw tooLarge();
      parts = this.scanner.write(chunk);
    } catch (error) {
      return this.stop(error as Error);
    }
    let wanted = true;
    for (const part of parts) wanted = this.push(part) && wanted;
    if (!wanted) this.source.pause();
  }

  private finish(): void {
    try {
      for (const part of this.scanner.end()) this.push(part);
    } catch (error) {
      return this.stop(error as Error);
    }
    this.detach();
    this.push(null);
  }

  /** Refused: the rest of the request is not read (the answer closes the connection). */
  private stop(error: Error): void {
    this.detach();
    this.destroy(error);
  }

  private detach(): void {
    this.source.off('data', this.onData);
    this.source.off('end', this.onEnd);
    this.source.off('error', this.onError);
  }
}

/**
 * The route's preParsing hook. With the route's `bodyLimit` at `readLimit`, Fastify answers 413 to
 * a Content-Length over it before reading; a body not readable as sent is held to `bodyLimit` as
 * every other route's is.
 */
export function readLastMessageOnly(limits: { bodyLimit: number; readLimit: number }) {
  return async (request: FastifyRequest, _reply: FastifyReply, payload: Readable): Promise<Readable> => {
    const reduce = readableAsSent(request.headers);
    if (!reduce && Number(request.headers['content-length']) > limits.bodyLimit) throw tooLarge();
    return new KeptBody(payload, new LastMessageScanner(limits.bodyLimit, reduce), reduce ? limits.readLimit : limits.bodyLimit);
  };
}

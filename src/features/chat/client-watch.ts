// How a turn answered whole (JSON) hears its client leave: the request's socket closing, or its
// FIN, before the answer is sent. A stream has its own watch (http/sse.ts), which also drops a
// client that stops reading; a whole answer has nothing to write until the end.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ClientWatch } from './turn-engine.js';

interface SocketLike {
  once(event: 'end', listener: () => void): unknown;
  removeListener(event: 'end', listener: () => void): unknown;
  destroyed?: boolean;
  readableEnded?: boolean;
}

/** Listens only once asked (the model call is under way), and stops when the turn stops watching. */
export function requestClientWatch(request: FastifyRequest, reply: FastifyReply): ClientWatch {
  return {
    onClientGone(listener) {
      const raw = reply.raw;
      const socket = typeof request.raw.socket?.once === 'function' ? (request.raw.socket as SocketLike) : null;
      if (socket?.destroyed || socket?.readableEnded) {
        listener();
        return () => {};
      }
      const stop = () => {
        raw.removeListener('close', left);
        socket?.removeListener('end', left);
      };
      // 'close' also comes after an answer sent in full; by then the turn has stopped watching.
      const left = () => {
        stop();
        if (!raw.writableEnded) listener();
      };
      raw.once('close', left);
      // A keep-alive socket carries the next requests: its listener goes with this turn.
      socket?.once('end', left);
      return stop;
    },
  };
}

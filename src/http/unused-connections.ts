// A connection that has not sent a byte (a browser's speculative preconnect, a client whose
// request was cancelled before it left) has no request to finish. Node's close() does not count
// it as idle, and stops the timer that would have ended it (REQUEST_TIMEOUT_MS), so a shutdown
// waited for it until the forced close after the grace. From the moment the server starts
// closing, one found unused twice in a row, half a second apart, is closed: a client about to
// send on it has had the time to, and what did send bytes is left to the drain.
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

const SWEEP_EVERY_MS = 500;

export function closeUnusedConnectionsOnClose(app: FastifyInstance): void {
  const open = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  let unusedBefore = new Set<Socket>();
  const sweep = () => {
    const unused = new Set<Socket>();
    for (const socket of open) {
      if (socket.bytesRead > 0) continue;
      if (unusedBefore.has(socket)) socket.destroy();
      else unused.add(socket);
    }
    unusedBefore = unused;
  };
  app.addHook('preClose', async () => {
    sweep();
    const timer = setInterval(sweep, SWEEP_EVERY_MS).unref();
    app.server.once('close', () => clearInterval(timer));
  });
}

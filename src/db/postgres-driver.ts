// The postgres.js driver as Parley loads it: guarded against dropped connections, and with a
// stall timeout its connections read at each statement.
import { readFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname, join } from 'node:path';
import type postgres from 'postgres';

/**
 * postgres.js 3.4.9 mishandles a connection cut while a transaction holds it (porsager/postgres
 * #1154, #1208, #1130, #1186, #1204; fixes not yet released). The transaction's next query (its ROLLBACK at
 * least) still goes to that connection: its write, flushed on the next tick, finds no socket
 * and throws where nothing can catch it, which killed the process; a flush cancelled by the
 * cut is never re-armed, so later queries on the connection wait forever; a query queued after
 * a reset's error event and before its close was never failed; and the pool parks
 * the dead connection as "full", where it is never reconnected, until every request waits.
 * The pool also reuses the connection object for a new socket, and what belonged to the old
 * socket reached the new one: an error the server sent just before the cut failed the query that
 * reopened the connection, and a cut transaction's callback, which still holds the object, sent
 * its next statement (or its ROLLBACK) inside another request's transaction or ahead of its
 * first query, after which each query there was handed the answer of the one before it.
 * Either way one request got another statement's answer (seen: a login given a message
 * insert's duplicate key error).
 * These guards fail such queries with CONNECTION_CLOSED (a 503) and leave the connection to
 * be reconnected. One more pair changes which idle connection the pool hands a statement (the
 * one used last, see 'index.js'). Each pair is [published source, guarded source], per file of
 * the driver.
 */
const DRIVER_GUARDS: Record<'queue.js' | 'connection.js' | 'index.js', Array<[string, string]>> = {
  'queue.js': [
    // The pool's idle connections are a queue; the pick below takes the one put back last.
    [
      '    push: (x) => (xs.push(x), x),\n',
      '    push: (x) => (xs.push(x), x),\n    pop: () => {\n      const out = xs.pop()\n      if (index >= xs.length) {\n        index = 0\n        xs = []\n      }\n      return out\n    },\n',
    ],
  ],
  'connection.js': [
    [
      '  function execute(q) {\n',
      "  function execute(q) {\n    if (!socket)\n      return queryError(q, Errors.connection('CONNECTION_CLOSED', options)), true\n    options.stall_timeout && !q.cursorFn && watchStall()\n",
    ],
    // A connection that went silent (a partition, a frozen host: no reset comes) held its
    // queries until the kernel gave up, some fifteen minutes later. A statement waiting longer
    // than `stall_timeout` since the database last sent anything now destroys the socket, which
    // fails its queries with CONNECTION_STALLED (a 503) and lets the pool reconnect. It first asks
    // the database, on a connection of its own, to cancel the statement, and waits up to a second
    // for its answer (the cancelled statement's error, a 503 too; the connection lives on): a
    // process waiting on a lock does not notice its client is gone, and each one given up kept a
    // connection of the database's until the lock was released (a lock held for minutes under load
    // used them all). A transaction pooler drops a cancel whose client has already left.
    [
      '  function data(x) {\n',
      '  var stallTimer, heardAt, cancelledAt // var: Connection() returns before this line runs\n  function watchStall() {\n    heardAt && (query || sent.length) || (heardAt = performance.now())\n    stallTimer || armStall(options.stall_timeout)\n  }\n  function armStall(ms) {\n    stallTimer = setTimeout(stalled, ms)\n    stallTimer.unref && stallTimer.unref()\n  }\n  function stalled() {\n    stallTimer = null\n    if (!socket || !(query || sent.length))\n      return\n    const quiet = performance.now() - heardAt\n    if (quiet < options.stall_timeout)\n      return armStall(options.stall_timeout - quiet)\n    if (backend.pid && cancelledAt !== heardAt) {\n      cancelledAt = heardAt\n      Connection(options).cancel(backend, noop, noop)\n      return armStall(Math.min(1000, options.stall_timeout))\n    }\n    socket.destroy(Errors.connection(\'CONNECTION_STALLED\', options, socket))\n  }\n\n  function data(x) {\n    stallTimer && (heardAt = performance.now())\n',
    ],
    [
      '  function nextWrite(fn) {\n',
      "  function nextWrite(fn) {\n    if (!socket) {\n      chunk = nextWriteTimer = null\n      error(Errors.connection('CONNECTION_CLOSED', options))\n      return true\n    }\n",
    ],
    ['    clearImmediate(nextWriteTimer)\n', '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    clearTimeout(stallTimer), stallTimer = null\n'],
    // A reset (hadError) only errored what was in flight when the socket's error event came; a
    // query queued between that event and the close (a transaction's ROLLBACK) waited forever.
    [
      "    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
      "    ;(query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n    query = null\n",
    ],
    // What the old socket owed dies with it. An error whose ReadyForQuery the cut swallowed, the
    // half-read result and its row count, and a query cut while the connection was starting (its
    // array-type lookup) were kept, and the next socket's first ReadyForQuery settled them: the
    // query that reopened the connection failed with the old error. Only `initial`, the query
    // the connection is being opened for, is carried over to the new socket.
    [
      '    if (initial)\n      return reconnect()\n',
      "    result = new Result(), results = errorResponse = null, rows = 0\n    if (initial) {\n      const lost = Errors.connection('CONNECTION_CLOSED', options)\n      query && queryError(query, lost)\n      while (sent.length)\n        queryError(sent.shift(), lost)\n      query = null\n      return reconnect()\n    }\n",
    ],
    // A new connection's array-type lookup is awaited by nothing: a cut during it was an
    // unhandled rejection ("read ECONNRESET"). Its error also fails the query that opened the
    // connection (errored() rejects both), or the connect is retried; it needs no second owner.
    ['        return fetchArrayTypes()\n', '        return fetchArrayTypes().catch(noop)\n'],
  ],
  'index.js': [
    // A statement went to the connection idle longest: after a burst had opened the whole pool,
    // one user's turns went round every connection, each with its database process gone cold,
    // and a turn took ~0.6 ms longer than on one connection (phase 3 after phase 1's load). The
    // one put back last is taken; the others stay idle until the load needs them.
    ['      return go(open.shift(), query)\n', '      return go(open.pop(), query)\n'],
    // sql.begin() holds its connection object for the whole callback, but once the socket
    // closes the pool reconnects that object for others. A transaction whose connection closed
    // is over: its queued and later statements (and its COMMIT or ROLLBACK) fail instead of
    // running on the new socket, in another request's transaction.
    //
    // That close listener stayed on the connection after the transaction, and its scope held the
    // transaction's callback and result until the connection's next transaction: each idle
    // connection kept the last result it served (an export batch, a turn's history). It is taken
    // off when the transaction ends, unless the connection has a newer one already, and let go.
    // The first COMMIT's stack trace, cached by the driver for good, holds the scopes of its
    // transaction: they let go of the listener and of the callback too.
    ['      , prepare = null\n', '      , prepare = null\n      , gone = null\n      , closer = null\n'],
    [
      '        new Promise((_, reject) => connection.onclose = reject)\n',
      '        new Promise((_, reject) => connection.onclose = closer = e => {\n          gone = e\n          while (queries.length)\n            queries.shift().reject(e)\n          reject(e)\n        })\n',
    ],
    [
      '    } catch (error) {\n      throw error\n    }\n',
      '    } catch (error) {\n      throw error\n    } finally {\n      connection && connection.onclose === closer && (connection.onclose = null)\n      closer = null\n    }\n',
    ],
    ['          const x = fn(sql)\n', '          const x = fn(sql)\n          fn = null\n'],
    [
      '        q.catch(e => uncaughtError || (uncaughtError = e))\n',
      '        q.catch(e => uncaughtError || (uncaughtError = e))\n        if (gone)\n          return q.reject(gone)\n',
    ],
  ],
};

let driver: typeof postgres | undefined;

/**
 * The driver with the guards above compiled into its modules. A version whose source differs
 * (a release with its own fix, say) loads as published, with a warning.
 */
export function postgresDriver(): typeof postgres {
  if (driver) return driver;
  const require = createRequire(import.meta.url);
  const entry = require.resolve('postgres');
  // queue.js, then connection.js, first: index.js requires them, and so gets the guarded ones from the cache.
  const files = (['queue.js', 'connection.js', 'index.js'] as const).map((name) => {
    const file = join(dirname(entry), name);
    return { file, guards: DRIVER_GUARDS[name], source: readFileSync(file, 'utf8') };
  });
  const applies = files.every(({ source, guards }) => guards.every(([from]) => source.includes(from)));
  if (applies && files.every(({ file }) => !require.cache[file])) {
    for (const { file, guards, source } of files) {
      let guarded = source;
      for (const [from, to] of guards) guarded = guarded.replaceAll(from, to);
      const patched = new Module(file) as Module & { _compile(code: string, filename: string): void };
      patched.filename = file;
      patched._compile(guarded, file);
      patched.loaded = true;
      require.cache[file] = patched;
    }
  } else if (!applies) {
    process.emitWarning('postgres.js differs from the version Parley guards against dropped connections; it is used unguarded', { code: 'PARLEY_DRIVER_UNGUARDED' });
  }
  driver = require(entry) as typeof postgres;
  return driver;
}

/**
 * A statement of this pool that hears nothing back for `ms` gives its connection up (the stall
 * guard in DRIVER_GUARDS). postgres.js drops options it does not know, so this goes on the
 * parsed options its connections share and read at each statement.
 */
export function watchForStalls(sql: postgres.Sql, ms: number): void {
  Object.assign(sql.options, { stall_timeout: ms });
}

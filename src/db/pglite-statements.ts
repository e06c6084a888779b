// Named prepared statements for PGlite, which has none of its own: its query() parses, describes,
// binds and executes each statement afresh, in five calls into WebAssembly. A chat turn's few
// large statements were parsed, rewritten (row security adds every tenant table's policies there)
// and planned on every turn. Here a statement is parsed and described once per session, under a
// name; each later run is one call: Bind, Describe, Execute, Sync. PostgreSQL replans a named
// statement by itself when a table it reads changes.
import { parse, protocol, type PGlite } from '@electric-sql/pglite';

/** Distinct statement texts kept prepared; the least recently used beyond this is closed. */
const MAX_STATEMENTS = 256;

interface Prepared {
  name: string;
  /** Parameter type oids, as the statement's Describe gave them. */
  types: number[];
}

export interface PgliteStatements {
  /** Runs one statement as the session's current role, outside any transaction. */
  query<T>(text: string, params: unknown[]): Promise<T[]>;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Parameters as PGlite's query() sends them: its serialiser for the described type, else text. */
function values(pg: PGlite, statement: Prepared, params: unknown[]): Array<string | null> {
  return params.map((value, i) => {
    if (value === null || value === undefined) return null;
    const serializer = pg.serializers[statement.types[i]!];
    return serializer ? (serializer(value) as string) : String(value);
  });
}

/** A table's columns changed under a `SELECT *` statement: PostgreSQL refuses the old plan rather than answer in a new shape. */
const resultTypeChanged = (error: unknown) => (error as { code?: string }).code === '0A000' && /cached plan must not change result type/.test(String((error as Error).message));

export function createPgliteStatements(pg: PGlite): PgliteStatements {
  const prepared = new Map<string, Prepared>();
  let counter = 0;
  const { serialize } = protocol;
  const run = (message: Uint8Array) => pg.execProtocolStream(message, { syncToFs: false });

  async function prepare(text: string): Promise<Prepared> {
    const known = prepared.get(text);
    if (known) {
      // Most recently used last: the first in the map's order is the one to close.
      prepared.delete(text);
      prepared.set(text, known);
      return known;
    }
    const name = `parley_${++counter}`;
    const described = await run(concat([serialize.parse({ name, text }), serialize.describe({ type: 'S', name }), serialize.sync()]));
    const statement = { name, types: parse.parseDescribeStatementResults(described) };
    prepared.set(text, statement);
    if (prepared.size > MAX_STATEMENTS) {
      const [oldest, evicted] = prepared.entries().next().value as [string, Prepared];
      prepared.delete(oldest);
      await run(concat([serialize.close({ type: 'S', name: evicted.name }), serialize.sync()]));
    }
    return statement;
  }

  async function execute<T>(text: string, params: unknown[]): Promise<T[]> {
    const statement = await prepare(text);
    const message = concat([serialize.bind({ statement: statement.name, values: values(pg, statement, params) }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]);
    const messages = await run(message);
    return (parse.parseResults(messages, pg.parsers)[0]?.rows ?? []) as T[];
  }

  async function forget(text: string) {
    const statement = prepared.get(text);
    if (!statement) return;
    prepared.delete(text);
    await run(concat([serialize.close({ type: 'S', name: statement.name }), serialize.sync()]));
  }

  return {
    query<T>(text: string, params: unknown[]) {
      // The transaction lock first (a transaction holds the session), then the query lock, as query() takes them.
      return pg._runExclusiveTransaction(() =>
        pg._runExclusiveQuery(async () => {
          try {
            return await execute<T>(text, params);
          } catch (error) {
            if (!resultTypeChanged(error)) throw error;
            await forget(text);
            return await execute<T>(text, params);
          } finally {
            await pg.syncToFs();
          }
        }),
      );
    },
  };
}

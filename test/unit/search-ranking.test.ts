import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { toQueryTerms, toTsvectorLiteral } from '../../src/features/knowledge/search-text.js';
import { createTestDatabase } from '../helpers/app.js';

/** The terms as the one tsquery literal they OR into. */
const toTsqueryLiteral = (text: string) => toQueryTerms(text)?.join(' | ') ?? null;

/**
 * A measurement, on whichever database the tests run against (PGlite, or PostgreSQL with
 * TEST_DATABASE_URL): which document ts_rank puts first for each query, with Parley's
 * literals and with PostgreSQL's own 'simple' parser. The table it logs is the evidence
 * for building lexemes in TypeScript (docs/decisions.md).
 */

const DOCUMENTS = {
  'en-boards': 'We manufacture printed circuit boards for industrial customers.',
  'en-office': 'Our office is located in Taipei, the capital of Taiwan.',
  'en-staff': 'The company employs fifty people across two shifts.',
  'zh-boards': '我們生產電路板',
  'zh-office': '公司位於台北',
  'zh-staff': '員工人數是五十人',
  'bn-boards': 'আমাদের কোম্পানি সার্কিট বোর্ড তৈরি করে',
  'bn-office': 'আমাদের অফিস ঢাকায় অবস্থিত',
  'bn-staff': 'আমাদের পঞ্চাশ জন কর্মী আছে',
} as const;
type DocumentId = keyof typeof DOCUMENTS;

const QUERIES: Array<[query: string, expected: DocumentId]> = [
  ['circuit boards', 'en-boards'],
  ['Where is the office located?', 'en-office'],
  ['How many people does the company employ?', 'en-staff'],
  ['電路板', 'zh-boards'],
  ['你們生產什麼？', 'zh-boards'],
  ['我們生產電路板', 'zh-boards'],
  ['台北', 'zh-office'],
  ['公司在哪裡？', 'zh-office'],
  ['員工人數', 'zh-staff'],
  ['有多少員工？', 'zh-staff'],
  ['সার্কিট বোর্ড', 'bn-boards'],
  ['অফিস কোথায়?', 'bn-office'],
  ['কতজন কর্মী আছে?', 'bn-staff'],
];

/** How each method turns the query into a tsquery, and the column or expression it searches. */
const METHODS = {
  /** Parley: our literals, OR of the query's terms. */
  parley: { vector: 'ours', query: '$1::tsquery', param: (q: string) => toTsqueryLiteral(q) },
  /** PostgreSQL's parser, the usual AND of plainto_tsquery. */
  simpleAnd: { vector: "to_tsvector('simple', content)", query: "plainto_tsquery('simple', $1)", param: (q: string) => q },
  /** PostgreSQL's parser with the same OR as Parley, to tell the parser's misses from AND's. */
  simpleOr: {
    vector: "to_tsvector('simple', content)",
    query: "replace(plainto_tsquery('simple', $1)::text, '&', '|')::tsquery",
    param: (q: string) => q,
  },
} as const;
type Method = keyof typeof METHODS;

let database: Database;
let drop: () => Promise<void>;
const table = `search_ranking_${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  ({ database, drop } = await createTestDatabase());
  await database.sql.exec(`CREATE TABLE ${table} (id text PRIMARY KEY, content text NOT NULL, ours tsvector NOT NULL)`);
  for (const [id, content] of Object.entries(DOCUMENTS)) {
    await database.sql.query(`INSERT INTO ${table} (id, content, ours) VALUES ($1, $2, $3::tsvector)`, [id, content, toTsvectorLiteral(content)]);
  }
});

afterAll(async () => {
  await database.sql.exec(`DROP TABLE IF EXISTS ${table}`);
  await drop();
});

/** The document ranked strictly first, or null when nothing matches or the best rank is shared. */
async function best(method: Method, query: string): Promise<string | null> {
  const { vector, query: tsquery, param } = METHODS[method];
  const rows = await database.sql.query<{ id: string; rank: number }>(
    `SELECT id, ts_rank(${vector}, ${tsquery})::float8 AS rank FROM ${table}
      WHERE ${vector} @@ ${tsquery} ORDER BY rank DESC, id LIMIT 2`,
    [param(query)],
  );
  const [first, second] = rows;
  if (!first || (second && Number(second.rank) === Number(first.rank))) return null;
  return first.id;
}

describe('full-text ranking across languages (measured)', () => {
  it('ranks the right document first with Parley literals, and records how the simple parser does', async () => {
    const results: Array<{ query: string; expected: string } & Record<Method, string>> = [];
    for (const [query, expected] of QUERIES) {
      const row = { query, expected } as (typeof results)[number];
      for (const method of Object.keys(METHODS) as Method[]) {
        const found = await best(method, query);
        row[method] = found === expected ? 'hit' : `miss (${found ?? 'none'})`;
      }
      results.push(row);
    }
    console.log(`ranking on ${database.kind}:\n${results.map((r) => JSON.stringify(r)).join('\n')}`);

    expect(results.filter((r) => r.parley !== 'hit')).toEqual([]);
    // PostgreSQL keeps 我們生產電路板 as one token: only the whole run finds it, never a part.
    const simple = (query: string) => results.find((r) => r.query === query)!;
    for (const subPhrase of ['電路板', '台北', '員工人數']) {
      expect(simple(subPhrase).simpleAnd).toBe('miss (none)');
      expect(simple(subPhrase).simpleOr).toBe('miss (none)');
    }
    expect(simple('我們生產電路板').simpleAnd).toBe('hit');
    // Bengali words survive its parser (in PGlite's C locale too); only AND loses questions.
    expect(simple('সার্কিট বোর্ড').simpleAnd).toBe('hit');
    expect(simple('কতজন কর্মী আছে?').simpleOr).toBe('hit');
  });

  it('accepts Parley literals as they are: empty, quoted and near the 1 MB limit', async () => {
    const huge = Array.from({ length: 150_000 }, (_, i) => `lexeme${i}`).join(' ');
    const cases = ['', "It's Joe's board", '電路板', huge];
    for (const text of cases) {
      const literal = toTsvectorLiteral(text);
      const [row] = await database.sql.query<{ lexemes: number; same: boolean }>(
        'SELECT length($1::tsvector) AS lexemes, $1::tsvector = $1::tsvector::text::tsvector AS same',
        [literal],
      );
      expect(Number(row!.lexemes)).toBe(literal === '' ? 0 : literal.split(/ (?=')/).length);
      expect(row!.same).toBe(true);
    }
    const [match] = await database.sql.query<{ found: boolean }>('SELECT $1::tsvector @@ $2::tsquery AS found', [
      toTsvectorLiteral("It's Joe's board"),
      toTsqueryLiteral("joe's"),
    ]);
    expect(match!.found).toBe(true);
  });
});

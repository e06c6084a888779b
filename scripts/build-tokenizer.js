// Writes generated/o200k.bin, the compact o200k table the token counter (src/llm/bpe.ts) loads:
// the tokens' bytes in rank order, from gpt-tokenizer's ranks. Run after tsc (npm run build):
// the format's one writer is dist/llm/bpe-table.js.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ranks from 'gpt-tokenizer/bpeRanks/o200k_base';
import { encodeTable, TABLE_URL } from '../dist/llm/bpe-table.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const path = fileURLToPath(TABLE_URL);
const file = encodeTable(ranks);
mkdirSync(dirname(path), { recursive: true });
writeFileSync(`${path}.tmp`, file);
renameSync(`${path}.tmp`, path);
process.stdout.write(
  `tokenizer: ${relative(root, path)} ${(file.length / 1024 / 1024).toFixed(2)} MiB (${ranks.length} o200k tokens)\n`,
);

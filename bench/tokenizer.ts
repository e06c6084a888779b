/**
 * The token counter against gpt-tokenizer: memory of a process that has counted, time to load the
 * table, and throughput on a mixed corpus (English, Chinese, Bengali, code, emoji, long runs).
 * Run with `npx tsx bench/tokenizer.ts` (after `npm run build` for the memory lines, which load
 * dist/ in fresh processes). Counts are checked equal on every text before timing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../test/helpers/random.js';

const root = fileURLToPath(new URL('..', import.meta.url));

const random = seededRandom(42);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path, suffix);
    return entry.name.endsWith(suffix) ? [path] : [];
  });
}

/** Splits text into pieces of about `size` characters, at line ends. */
function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    current += `${line}\n`;
    if (current.length >= size) {
      out.push(current);
      current = '';
    }
  }
  if (current) out.push(current);
  return out;
}

const CHINESE = '的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏';
const BENGALI = [
  'আমি', 'তুমি', 'সে', 'আমরা', 'বাংলা', 'ভাষা', 'পৃথিবীর', 'অন্যতম', 'প্রধান', 'কথ্য', 'সাহিত্য', 'রবীন্দ্রনাথ', 'ঠাকুর',
  'নোবেল', 'পুরস্কার', 'পেয়েছিলেন', 'ঢাকা', 'কলকাতা', 'শহর', 'নদী', 'মানুষ', 'বিদ্যালয়', 'ছাত্র', 'শিক্ষক', 'সকাল', 'রাত',
];
const EMOJI = ['😀', '👍🏽', '🇫🇷', '👨‍👩‍👧‍👦', '❤️', '🎉', '🚀', '🤖', '✅', '🔥', '🙏', '😂', '🌍', '🧑🏿‍💻'];

function generated(count: number, make: () => string): string[] {
  return Array.from({ length: count }, make);
}

function corpus(): Record<string, string[]> {
  const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((n) => n.endsWith('.md')).map((n) => join('docs', n))];
  const english = chunks(docs.map((path) => readFileSync(join(root, path), 'utf8')).join('\n'), 2000);
  const code = chunks(filesUnder(join(root, 'src'), '.ts').map((path) => readFileSync(path, 'utf8')).join('\n'), 2000).slice(0, 200);
  const chinese = generated(100, () => {
    let text = '';
    while (text.length < 600) text += Array.from({ length: 4 + Math.floor(random() * 20) }, () => pick([...CHINESE])).join('') + pick(['，', '。', '、', '？', '！\n']);
    return text;
  });
  const bengali = generated(100, () => Array.from({ length: 150 }, () => pick(BENGALI)).join(' ').replace(/(\S+ ){9}/g, '$&। '));
  const emoji = generated(100, () => Array.from({ length: 200 }, () => pick([...EMOJI, ' ', 'ok ', 'yes! ', '\n'])).join(''));
  // Runs of non-space past 256 characters reach the counter in 256-character slices (src/llm/tokens.ts).
  const slices = (run: string) => Array.from({ length: Math.ceil(run.length / 256) }, (_, i) => run.slice(i * 256, (i + 1) * 256));
  const base64 = Buffer.from(Array.from({ length: 30_000 }, () => Math.floor(random() * 256))).toString('base64');
  const han = Array.from({ length: 20_000 }, () => pick([...CHINESE])).join('');
  const longRuns = [
    ...[1000, 3000, 5000].map((n) => ' '.repeat(n)),
    `${'\n'.repeat(2000)}x`,
    `x${'\t '.repeat(1500)}y`,
    ...slices(base64),
    ...slices(han),
    ...slices('中'.repeat(3000)),
    ...slices('a'.repeat(4000)),
    ...slices('=-'.repeat(2000)),
  ];
  return { english, chinese, bengali, code, emoji, 'long runs': longRuns };
}

interface Counter {
  count: (text: string) => number;
  clear: () => void;
}

/**
 * Million UTF-16 characters a second over `texts`, for about `seconds`. Cold: each pass starts
 * with the counter's cache of merged pieces empty (text never seen); warm: the same texts again.
 */
function throughput(counter: Counter, texts: string[], seconds: number, cold: boolean): number {
  const size = texts.reduce((sum, text) => sum + text.length, 0);
  let chars = 0;
  let spent = 0;
  if (!cold) for (const text of texts) counter.count(text);
  // CPU time, not wall time: other processes on the machine then matter less.
  while (spent < seconds * 1e6) {
    if (cold) counter.clear();
    const started = process.cpuUsage();
    for (const text of texts) counter.count(text);
    const used = process.cpuUsage(started);
    spent += used.user + used.system;
    chars += size;
  }
  return chars / (spent / 1e6) / 1e6;
}

/** RSS (MB) of a fresh node that ran `code`, after a GC. */
function rssAfter(code: string): number {
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', `${code}; global.gc(); console.log(process.memoryUsage().rss / 1e6)`], {
    cwd: root,
    encoding: 'utf8',
  });
  return Number(out.trim());
}

function memory(): void {
  if (!existsSync(join(root, 'dist', 'llm', 'tokens.js')) || !existsSync(join(root, 'generated', 'o200k.bin'))) {
    console.log('memory: run `npm run build` first (measured on dist/)');
    return;
  }
  const median = (code: string) => [1, 2, 3].map(() => rssAfter(code)).sort((a, b) => a - b)[1]!;
  const bare = median('');
  const ours = median("const t = await import('./dist/llm/tokens.js'); t.countTokens('hello world')");
  const theirs = median("const t = await import('gpt-tokenizer'); t.countTokens('hello world')");
  console.log(`memory (RSS after one count, median of 3): bare node ${bare.toFixed(1)} MB, ours ${ours.toFixed(1)} MB (+${(ours - bare).toFixed(1)}), gpt-tokenizer ${theirs.toFixed(1)} MB (+${(theirs - bare).toFixed(1)})`);
}

async function main(): Promise<void> {
  memory();
  let started = performance.now();
  const bpe = await import('../src/llm/bpe.js');
  bpe.loadBpe();
  const ourLoad = performance.now() - started;
  started = performance.now();
  const gpt = await import('gpt-tokenizer');
  const theirLoad = performance.now() - started;
  console.log(`load: ours ${ourLoad.toFixed(0)} ms (module and table), gpt-tokenizer ${theirLoad.toFixed(0)} ms (import)`);

  const plain = { disallowedSpecial: new Set<string>() };
  const theirs: Counter = { count: (text) => gpt.countTokens(text, plain), clear: gpt.clearMergeCache };
  const ours: Counter = { count: bpe.countBpe, clear: bpe.clearBpeCache };
  const seconds = Number(process.argv[2] ?? 1);
  console.log(`throughput, million UTF-16 characters a CPU second (about ${seconds} s each); cold: caches emptied before each pass, warm: the same texts again`);
  const cell = (a: number, b: number) => `${a.toFixed(2).padStart(6)} vs ${b.toFixed(2).padStart(6)} (×${(a / b).toFixed(2)})`;
  console.log(`  ${'text'.padEnd(10)} ${'cold: ours vs gpt-tokenizer'.padEnd(28)} warm: ours vs gpt-tokenizer`);
  for (const [name, texts] of Object.entries(corpus())) {
    const mismatch = texts.find((text) => ours.count(text) !== theirs.count(text));
    if (mismatch !== undefined) throw new Error(`${name}: counts differ on ${JSON.stringify(mismatch.slice(0, 80))}`);
    const cold = [throughput(ours, texts, seconds, true), throughput(theirs, texts, seconds, true)] as const;
    const warm = [throughput(ours, texts, seconds, false), throughput(theirs, texts, seconds, false)] as const;
    console.log(`  ${name.padEnd(10)} ${cell(...cold)}  ${cell(...warm)}`);
  }
}

await main();

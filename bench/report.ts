/**
 * docs/benchmarks.md: what was run, on what, and every figure next to the baseline measured in the
 * same run with their ratio, the target and how far from it the figure is.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { PARLEY_COMMAND } from './processes.js';

export interface Row {
  measure: string;
  parley: string;
  baseline: string;
  ratio: string;
  target: string;
  verdict: string;
}

export interface Section {
  title: string;
  /** What the phase did, in a sentence or two. */
  method: string;
  rows: Row[];
  notes: string[];
}

export interface Machine {
  cpu: string;
  cores: number;
  ramGiB: string;
  node: string;
  database: string;
  fdLimit: string;
  background: string;
  /** µs per trip into the kernel (kernelCallMicros). */
  kernelCallUs: number;
}

/**
 * What one trip into the kernel costs here: a 1-byte read of /dev/zero from Node (median of 5
 * batches). Machines of the same CPU model differ by several times in it (virtualisation, page-table
 * isolation), and the loopback-heavy phases (3, 4, 5) scale with it: reports from two machines
 * compare only beside it.
 */
export function kernelCallMicros(): number {
  const fd = openSync('/dev/zero', 'r');
  const buffer = Buffer.alloc(1);
  const batches: number[] = [];
  try {
    for (let b = 0; b < 5; b++) {
      const started = process.hrtime.bigint();
      for (let i = 0; i < 20_000; i++) readSync(fd, buffer, 0, 1, null);
      batches.push(Number(process.hrtime.bigint() - started) / 1000 / 20_000);
    }
  } finally {
    closeSync(fd);
  }
  return batches.sort((a, b) => a - b)[2]!;
}

/** Share of the whole machine's CPU busy over `ms`, from /proc/stat (taken before our servers start). */
export async function machineBusy(ms = 1000): Promise<number> {
  const sample = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { idle, total: fields.reduce((a, b) => a + b, 0) };
  };
  const a = sample();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = sample();
  return 1 - (b.idle - a.idle) / Math.max(1, b.total - a.total);
}

export function describeMachine(database: string, busy: number): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const fd = /Max open files\s+(\d+)\s+(\d+)/.exec(limits);
  return {
    cpu: model,
    cores: os.cpus().length,
    ramGiB: (os.totalmem() / 1024 ** 3).toFixed(1),
    node: process.version,
    database,
    fdLimit: fd ? `${fd[1]} soft / ${fd[2]} hard per process` : 'unknown',
    background: `${Math.round(busy * 100)}% of all CPUs busy with other work just before the servers started`,
    kernelCallUs: kernelCallMicros(),
  };
}

export const num = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
/** A number with its unit, or "n/a" alone when it was not measured. */
export const withUnit = (value: number, unit: string, digits = 1): string => (Number.isFinite(value) ? `${value.toFixed(digits)} ${unit}` : 'n/a');
export const ratio = (parley: number, baseline: number): string => (Number.isFinite(parley / baseline) ? `${(parley / baseline).toFixed(2)}×` : 'n/a');

/** "met/missed" and the distance, for a figure that must be at least `target`. */
export function atLeast(value: number, target: number, unit = ''): string {
  if (!Number.isFinite(value)) return '❓ not measured';
  const margin = ((value - target) / target) * 100;
  return value >= target
    ? `✅ met: ${num(value, 2)}${unit} ≥ ${target}${unit}, ${num(margin, 0)}% above`
    : `❌ missed: ${num(value, 2)}${unit} < ${target}${unit}, ${num(-margin, 0)}% below`;
}

/** "met/missed" and the distance, for a figure that must be at most `target`. */
export function atMost(value: number, target: number, unit: string, digits = 2): string {
  if (!Number.isFinite(value)) return '❓ not measured';
  const distance = Math.abs(target - value);
  return value <= target
    ? `✅ met: ${num(value, digits)} ${unit} ≤ ${target} ${unit}, ${num(distance, digits)} ${unit} to spare`
    : `❌ missed: ${num(value, digits)} ${unit} > ${target} ${unit}, ${num(distance, digits)} ${unit} over`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** One phase's markdown: its title, how it was run (`stamp`, when it ran apart from the rest of the file), method, table and notes. */
export function renderSection(section: Section, stamp?: string): string[] {
  const out = [`### ${section.title}`, ''];
  if (stamp) out.push(`_${stamp}_`, '');
  out.push(section.method, '');
  if (section.rows.length > 0) {
    out.push('| Measure | Parley | Baseline | Ratio | Target | Verdict |', '|---|---:|---:|---:|---|---|');
    for (const r of section.rows) out.push(`| ${[r.measure, r.parley, r.baseline, r.ratio, r.target, r.verdict].map(cell).join(' | ')} |`);
    out.push('');
  }
  for (const note of section.notes) out.push(`- ${note}`);
  if (section.notes.length > 0) out.push('');
  return out;
}

export function renderReport(input: { command: string; settings: string[]; machine: Machine; startedAt: Date; totalSeconds: number; sections: Section[]; problems: string[] }): string {
  const { machine } = input;
  const out: string[] = [
    '# Benchmarks',
    '',
    `Generated by \`bench/run.ts\` on ${input.startedAt.toISOString().replace(/\.\d+Z$/, 'Z')} in ${Math.round(input.totalSeconds)} s. Re-run with:`,
    '',
    '```sh',
    input.command,
    '```',
    '',
    ...input.settings.map((s) => `- ${s}`),
    '',
    'Two runs are kept: `docs/benchmarks.md` on PostgreSQL (`DATABASE_URL=… npm run bench`) and',
    '`docs/benchmarks-pglite.md` on the embedded database (`BENCH_REPORT=docs/benchmarks-pglite.md npm run bench`).',
    'On this 2-core machine the same command gives figures that differ by 10–30 % from run to run;',
    'read the ratios, which are measured back to back.',
    '',
    '## Machine',
    '',
    `- CPU: ${machine.cpu}, ${machine.cores} cores`,
    `- RAM: ${machine.ramGiB} GiB`,
    `- Node: ${machine.node}`,
    `- Database: ${machine.database}`,
    `- Open files: ${machine.fdLimit}`,
    `- Other load: ${machine.background}`,
    `- Kernel call: ${num(machine.kernelCallUs, 2)} µs for a 1-byte read of /dev/zero from Node (machines of one CPU model differ several times in it; phases 3–5 scale with it)`,
    '',
    '## How it is measured',
    '',
    'Everything runs on this one machine over loopback, each server in its own process: the fake LLM',
    '(`test/fake-llm/fake-llm.ts`, answering at once unless a phase says otherwise), Parley',
    `(\`${PARLEY_COMMAND}\`, rate limits raised to 1,000,000/min rather than switched off) and the`,
    '**baseline** (`bench/baseline-server.ts`: node:http, no auth, no database, messages in a Map, calling',
    'the same fake LLM with global `fetch`). The load generator is the bench process itself. Both servers',
    'are measured in the same run, one right after the other, under the same conditions; the ratio is',
    'Parley ÷ baseline. The machine has few cores, so the load generator, the fake LLM and the server',
    'compete for CPU: absolute numbers are lower than on a bigger box, the ratios are what to read.',
    '',
    '## Results',
    '',
  ];
  for (const section of input.sections) out.push(...renderSection(section));
  if (input.problems.length > 0) {
    out.push('## Problems in this run', '');
    for (const p of input.problems) out.push(`- ${p}`);
    out.push('');
  }
  return out.join('\n');
}

// The soak (`npm run bench -- soak`) keeps its own section in the same file, between these markers:
// a run of the other phases keeps it, and a soak replaces only it.
export const SOAK_START = '<!-- soak:start -->';
export const SOAK_END = '<!-- soak:end -->';

function soakBlock(text: string): string | null {
  const start = text.indexOf(SOAK_START);
  const end = text.indexOf(SOAK_END, start);
  return start === -1 || end === -1 ? null : text.slice(start, end + SOAK_END.length);
}

const existing = (path: string): string => (existsSync(path) ? readFileSync(path, 'utf8') : '');

export function writeReport(path: string, markdown: string): void {
  const kept = soakBlock(existing(path));
  writeFileSync(path, kept ? `${markdown.trimEnd()}\n\n${kept}\n` : markdown);
}

/** Puts `section` (the soak's markdown, markers excluded) in place of the old one, or at the end. */
export function writeSoakSection(path: string, section: string): void {
  const text = existing(path);
  const block = `${SOAK_START}\n${section.trim()}\n${SOAK_END}`;
  const old = soakBlock(text);
  writeFileSync(path, old ? text.replace(old, () => block) : `${text.trimEnd()}\n\n${block}\n`);
}

const RESULTS = '## Results\n';
const phaseNumber = (block: string) => Number(/^### (\d+)\./.exec(block)?.[1] ?? NaN);

/**
 * A run of some phases only (BENCH_PHASES) puts their sections in place of the same phases' in an
 * existing report, or among them in phase order, and leaves the rest of the file (the other
 * phases, the full run's header, machine and problems, the soak) as it was; each new section says
 * when and how it was measured. Without a report to merge into, it writes a whole one (`full`).
 * Returns whether it merged.
 */
export function writePhaseSections(path: string, sections: Array<{ n: number; section: Section }>, stamp: string, full: string): boolean {
  const text = existing(path);
  const start = text.indexOf(RESULTS);
  if (start === -1) {
    writeReport(path, full);
    return false;
  }
  const bodyStart = start + RESULTS.length;
  // The results run to the next second-level heading (problems, the soak) or the end of the file.
  const heading = text.indexOf('\n## ', bodyStart);
  const ends = [heading === -1 ? -1 : heading + 1, text.indexOf(SOAK_START, bodyStart)].filter((at) => at !== -1);
  const bodyEnd = ends.length > 0 ? Math.min(...ends) : text.length;
  const blocks = new Map<number, string>();
  for (const block of text.slice(bodyStart, bodyEnd).split(/^(?=### )/m)) {
    const n = phaseNumber(block);
    if (Number.isFinite(n)) blocks.set(n, block.trimEnd());
  }
  for (const { n, section } of sections) blocks.set(n, renderSection(section, stamp).join('\n').trimEnd());
  const body = [...blocks.entries()].sort(([a], [b]) => a - b).map(([, block]) => block).join('\n\n');
  writeFileSync(path, `${text.slice(0, bodyStart)}\n${body}\n\n${text.slice(bodyEnd).trimStart()}`.trimEnd() + '\n');
  return true;
}

// `parley doctor [--json] [--streams N]`: checks a set-up and prints one line per check, with what
// to do after each failure. Exits 1 when a check fails (warnings do not) or the arguments are wrong.
// It changes nothing: no migration, no role, no key; an embedded database in use is left alone.
import { parseArgs } from 'node:util';
import { USAGE } from './cli-usage.js';
import { readEnvironment } from './config/env.js';
import { anyFailed, DEFAULT_STREAMS, formatResult, runDoctor } from './features/doctor/doctor.js';

export const DOCTOR_USAGE = USAGE.doctor;

function parse(argv: string[]): { json: boolean; streams: number } {
  let values: { json?: boolean; streams?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, streams: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new Error(`${(error as Error).message}\nusage: ${DOCTOR_USAGE}`);
  }
  const streams = values.streams === undefined ? DEFAULT_STREAMS : Number(values.streams);
  if (!Number.isInteger(streams) || streams < 1 || streams > 10_000_000) throw new Error(`--streams must be a whole number from 1 to 10000000\nusage: ${DOCTOR_USAGE}`);
  return { json: values.json ?? false, streams };
}

/** Runs the checks and exits: a hung connection of some check must not keep the report's reader waiting. */
export async function doctorCommand(argv: string[]): Promise<void> {
  const { json, streams } = parse(argv);
  const checks = await runDoctor(readEnvironment(), { streams });
  const failed = anyFailed(checks);
  const text = json ? `${JSON.stringify({ ok: !failed, checks })}\n` : `${checks.map(formatResult).join('\n')}\n`;
  await new Promise<void>((resolve) => process.stdout.write(text, () => resolve()));
  process.exit(failed ? 1 : 0);
}

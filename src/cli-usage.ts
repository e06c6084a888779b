// Each command's usage line: shown by `parley <command> --help` and after a usage error. Kept
// apart from the commands so the help loads none of them.
export const USAGE = {
  serve: 'parley serve   (no arguments: configured by environment variables and ./.env, such as PORT and DATA_DIR; see README.md)',
  migrate: 'parley migrate   (no arguments: applies pending migrations to the configured database)',
  users: 'parley users promote|demote|deactivate|activate <username> [--issuer <name> [--external-id <id>]]',
  token: 'parley token --user-id <id> --username <name> [--issuer external|supabase] [--expires 24h|none]',
  export: 'parley export --chatbot <id> [--status active|completed] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--format json|ndjson|csv] [--output <file>]',
  doctor: 'parley doctor [--json] [--streams <expected open streams, default 1024>]',
  slugs: 'parley slugs show|release <slug>',
  backup: 'parley backup <file>',
  restore: 'parley restore <file>',
} as const;

export type Command = keyof typeof USAGE;

export const isCommand = (name: string): name is Command => Object.hasOwn(USAGE, name);

/** `--help` or `-h` among a command's arguments, before any `--` (after which it is a value). */
export function asksForHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

// What asks a command to stop: Ctrl-C, a timeout's or a service manager's SIGTERM, a closed terminal.
import { constants } from 'node:os';

const STOPPING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs `onStop` at the first of the stopping signals, in place of Node's default (ending the
 * process at once, whatever it had half written); the same signal again ends it as before.
 * Returns the function that puts Node's default back.
 */
export function onStopSignal(onStop: (signal: NodeJS.Signals) => void): () => void {
  for (const signal of STOPPING_SIGNALS) process.once(signal, onStop);
  return () => {
    for (const signal of STOPPING_SIGNALS) process.off(signal, onStop);
  };
}

/** The exit status a shell expects of a process a signal ended: 130 for Ctrl-C. */
export const signalStatus = (signal: NodeJS.Signals): number => 128 + constants.signals[signal];

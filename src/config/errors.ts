/** A configuration problem, phrased as the one line the process prints before it stops. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

// Kept apart from the database's modules: configuration reads it too, before any database is opened.

/** What an error of the file system says about the disk under `target`, for its operator; null when it is not the disk's. */
export function describeDiskError(target: string, error: unknown): string | null {
  const code = (error as { code?: string }).code;
  if (code === 'EROFS') return `${target} is on a read-only file system (a disk turns read-only by itself after an error: check the kernel log, repair it, and mount it writable again)`;
  if (code === 'EACCES' || code === 'EPERM') return `${target} is not writable by this user`;
  if (code === 'ENOSPC') return `${target}'s disk is full`;
  if (code === 'EIO') return `${target}'s disk fails to save what is written to it (I/O error): check the kernel log for disk errors and the disk's health`;
  return null;
}

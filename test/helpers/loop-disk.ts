// A disk of DATA_DIR's own for tests of what a disk does under the embedded database: an ext4
// image in a temporary folder, loop-mounted as distributions mount disks (errors=remount-ro).
// Needs root, losetup and mkfs.ext4, as CI and the test machines have.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export const run = (command: string, args: string[]) => execFileSync(command, args, { stdio: 'pipe' }).toString().trim();

export function loopDisk(prefix: string) {
  const work = mkdtempSync(join(tmpdir(), prefix));
  const mountPoint = join(work, 'disk');
  const image = join(work, 'disk.img');
  const devices: string[] = [];
  const mounted = () => readFileSync('/proc/mounts', 'utf8').includes(` ${mountPoint} `);

  /** Mounts `file` (an ext4 image) at the mount point; returns its loop device. */
  function mount(file: string): string {
    const device = run('losetup', ['--find', '--show', file]);
    devices.push(device);
    run('mount', ['-o', 'errors=remount-ro', device, mountPoint]);
    return device;
  }

  return {
    work,
    mountPoint,
    image,
    mount,
    /** Makes the image and mounts it; a clear error where that is not allowed. */
    create(size = '300M') {
      try {
        run('mkdir', ['-p', mountPoint]);
        run('truncate', ['-s', size, image]);
        run('mkfs.ext4', ['-q', image]);
        return mount(image);
      } catch (error) {
        throw new Error(`this test loop-mounts an ext4 image as DATA_DIR's disk, which needs root, losetup and mkfs.ext4: ${(error as Error).message}`);
      }
    },
    /** What a failing disk does: ext4 records an error and turns the file system read-only, files open or not. */
    fail(device: string) {
      writeFileSync(`/sys/fs/ext4/${basename(device)}/trigger_fs_error`, 'parley test: a disk error');
    },
    /** Detaches the mounted image (lazily: a process may still hold files there). */
    unmount() {
      while (mounted()) run('umount', ['-l', mountPoint]);
    },
    remove() {
      while (mounted()) run('umount', ['-l', mountPoint]);
      for (const device of devices.splice(0)) execFileSync('losetup', ['-d', device], { stdio: 'ignore' });
      rmSync(work, { recursive: true, force: true });
    },
  };
}

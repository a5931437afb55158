/**
 * Thin promise wrappers over node:fs callback APIs for the hot paths (positional reads/writes,
 * fdatasync). fs/promises' FileHandle adds an object and a close-tracking layer per call; these
 * add one closure. Does NOT retry EINTR/EAGAIN (libuv does) or map errors (callers do).
 */

import * as fs from 'node:fs';
import * as path from 'node:path';

/** Writes buf[off, off+len) at file position `pos`, looping over partial writes. */
export function writeAll(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (o: number, l: number, p: number): void => {
      fs.write(fd, buf, o, l, p, (e, n) => {
        if (e) return reject(e);
        if (n >= l) return resolve();
        step(o + n, l - n, p + n);
      });
    };
    step(off, len, pos);
  });
}

/**
 * writeAll on the calling thread. For small writes into the page cache (a few µs) this saves the
 * thread-pool round trip of fs.write (a worker wake-up and a completion callback: most of the
 * broker's CPU per one-at-a-time push). Not for large writes: the event loop waits for it.
 */
export function writeAllSync(fd: number, buf: Buffer, off: number, len: number, pos: number): void {
  while (len > 0) {
    const n = fs.writeSync(fd, buf, off, len, pos);
    off += n;
    len -= n;
    pos += n;
  }
}

/** Reads up to `len` bytes at `pos` into buf[off…]; returns the bytes read (short only at EOF). */
export function readAt(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let total = 0;
    const step = (): void => {
      fs.read(fd, buf, off + total, len - total, pos + total, (e, n) => {
        if (e) return reject(e);
        total += n;
        if (n === 0 || total >= len) return resolve(total);
        step();
      });
    };
    step();
  });
}

export function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));
}

export function openFd(p: string, flags: string): Promise<number> {
  return new Promise((resolve, reject) => fs.open(p, flags, 0o644, (e, fd) => (e ? reject(e) : resolve(fd))));
}

export function closeFd(fd: number): Promise<void> {
  return new Promise((resolve) => fs.close(fd, () => resolve()));
}

/** fsyncs a directory so created/renamed/unlinked entries survive a power loss (ext4, xfs). */
export async function fsyncDir(dir: string): Promise<void> {
  let fd: number;
  try {
    fd = await openFd(dir, 'r');
  } catch {
    return; // some platforms cannot open directories; the entry is still written eventually
  }
  try {
    await new Promise<void>((resolve) => fs.fsync(fd, () => resolve()));
  } finally {
    await closeFd(fd);
  }
}

export async function unlinkIfExists(p: string): Promise<boolean> {
  try {
    await fs.promises.unlink(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

export function segmentFileName(base: number): string {
  return String(base).padStart(20, '0');
}

export function segmentLogPath(dir: string, base: number): string {
  return path.join(dir, `${segmentFileName(base)}.log`);
}
export function segmentIndexPath(dir: string, base: number): string {
  return path.join(dir, `${segmentFileName(base)}.index`);
}

export const LOG_FILE_RE = /^(\d{20})\.log$/;
export const RESET_FILE_RE = /^(\d{20})\.log\.reset$/;
export const INDEX_FILE_RE = /^(\d{20})\.index$/;

/**
 * The data-directory lock: `<dir>/LOCK` holds the owner's pid. A lock whose pid is not a live
 * process (kill(pid, 0) fails with ESRCH) is stale and taken over, so a `kill -9` does not
 * wedge the directory. Also refuses a second FileStorage on the same directory in this process.
 *
 * Does NOT use OS advisory locks (flock is not exposed by Node without a native addon), so two
 * processes racing to take over the same stale lock are resolved by rename + read-back, and a
 * recycled pid of an unrelated live process makes the lock look held (fail-safe: the operator
 * deletes LOCK). Does NOT work across hosts sharing a network filesystem.
 */

import { mkdirp } from './mkdirp.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { err } from '../../../core/errors.js';

const heldInProcess = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unusable(dir: string, why: string, cause?: unknown): Error {
  return err('MQ_ERR_STORAGE', `data directory ${dir} is not usable: ${why}`, cause);
}

export interface DirLock {
  release(): Promise<void>;
}

/** Creates `dir` if needed, checks it is a writable directory and takes its lock. */
export async function lockDataDir(dir: string): Promise<DirLock> {
  const abs = path.resolve(dir);
  const pre = await fs.promises.stat(abs).catch(() => null);
  if (pre !== null && !pre.isDirectory()) throw unusable(abs, 'it is not a directory');
  try {
    await mkdirp(abs);
  } catch (e) {
    throw unusable(abs, (e as NodeJS.ErrnoException).code === 'EEXIST' || (e as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'a path component is a file' : String((e as Error).message), e);
  }
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(abs);
  } catch (e) {
    throw unusable(abs, String((e as Error).message), e);
  }
  if (!st.isDirectory()) throw unusable(abs, 'it is not a directory');
  try {
    await fs.promises.access(abs, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
  } catch (e) {
    throw unusable(abs, 'it is not readable and writable by this process', e);
  }
  if (heldInProcess.has(abs)) throw err('MQ_ERR_STORAGE', `data directory ${abs} is already open in this process`);

  const lockPath = path.join(abs, 'LOCK');
  const mine = `${process.pid}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.promises.writeFile(lockPath, mine, { flag: 'wx' });
      heldInProcess.add(abs);
      return makeLock(abs, lockPath, mine);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw unusable(abs, `cannot create ${lockPath}: ${(e as Error).message}`, e);
    }
    let owner = NaN;
    try {
      owner = Number.parseInt(await fs.promises.readFile(lockPath, 'utf8'), 10);
    } catch {
      continue; // removed meanwhile: retry the exclusive create
    }
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw err('MQ_ERR_STORAGE', `data directory ${abs} is locked by running process ${owner} (${lockPath})`);
    }
    // Stale (dead owner, garbage, or an unreleased lock of this very process): take it over
    // atomically, then read back to lose gracefully against a concurrent taker.
    const tmp = `${lockPath}.${process.pid}`;
    try {
      await fs.promises.writeFile(tmp, mine);
      await fs.promises.rename(tmp, lockPath);
    } catch (e) {
      throw unusable(abs, `cannot take over stale lock ${lockPath}: ${(e as Error).message}`, e);
    }
    await new Promise((r) => setTimeout(r, 5));
    const now = await fs.promises.readFile(lockPath, 'utf8').catch(() => '');
    if (now === mine) {
      heldInProcess.add(abs);
      return makeLock(abs, lockPath, mine);
    }
  }
  throw err('MQ_ERR_STORAGE', `data directory ${abs} is locked by another process (${lockPath})`);
}

function makeLock(abs: string, lockPath: string, mine: string): DirLock {
  let released = false;
  return {
    async release(): Promise<void> {
      if (released) return;
      released = true;
      heldInProcess.delete(abs);
      const now = await fs.promises.readFile(lockPath, 'utf8').catch(() => '');
      if (now === mine) await fs.promises.unlink(lockPath).catch(() => undefined);
    },
  };
}

/**
 * Another process's memory and CPU from /proc (Linux), for measuring a broker the harness talks to
 * over the network: the anchors report the broker's RSS and CPU next to every figure
 * (research/anchors-measured.md), and the same numbers are needed for Omnibus's own server.
 * Every function returns undefined where /proc is missing or unreadable (another OS, the process
 * gone, no permission), so a bench run never fails for want of these numbers.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** USER_HZ: the unit of utime/stime in /proc/PID/stat; 100 on every Linux architecture Node supports. */
const CLOCK_TICKS = 100;

function status(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
}

function kbField(text: string | undefined, field: string): number | undefined {
  if (text === undefined) return undefined;
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
}

/** Current resident set size, bytes. */
export function procRss(pid: number): number | undefined {
  return kbField(status(pid), 'VmRSS');
}

/** Peak resident set size since start or the last resetPeakRss(), bytes. */
export function procPeakRss(pid: number): number | undefined {
  return kbField(status(pid), 'VmHWM');
}

/**
 * Resets VmHWM to the current RSS (writing 5 to clear_refs), so the next peak belongs to the
 * next size only. Needs to own the process or be root; returns false if that failed.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** User + system CPU seconds the process has used so far. */
export function procCpuSeconds(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / CLOCK_TICKS;
}

/** Whether a process with this pid exists (signal 0). */
export function procAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops a process the bench started, by its pid: SIGTERM, then SIGKILL if it is still there after
 * `graceMs` (`onKill` is told, so a report can say a broker ignored SIGTERM).
 */
export async function stopPid(pid: number | undefined, graceMs = 30_000, onKill?: () => void): Promise<void> {
  if (pid === undefined || !procAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const end = Date.now() + graceMs;
  while (procAlive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  if (procAlive(pid)) {
    onKill?.();
    process.kill(pid, 'SIGKILL');
  }
}

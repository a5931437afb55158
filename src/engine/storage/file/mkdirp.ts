/**
 * `mkdir -p` without Node's recursive mkdir: on Node 20.20, `mkdir(path, { recursive: true })`
 * under /proc (e.g. /proc/nonexistent/x) never returns and spins a CPU. Creating one component
 * at a time with plain mkdir fails properly (ENOENT/EACCES/ENOTDIR), which the caller turns into
 * MQ_ERR_STORAGE. Costs one stat per existing ancestor; run once per directory opened.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export async function mkdirp(dir: string): Promise<void> {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  let p = abs;
  for (;;) {
    try {
      const st = await fs.promises.stat(p);
      if (!st.isDirectory()) {
        const e = new Error(`ENOTDIR: not a directory, mkdir '${abs}'`) as NodeJS.ErrnoException;
        e.code = 'ENOTDIR';
        throw e;
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      missing.push(p);
      const parent = path.dirname(p);
      if (parent === p) break;
      p = parent;
    }
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      await fs.promises.mkdir(missing[i]!);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

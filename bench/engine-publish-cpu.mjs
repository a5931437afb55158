#!/usr/bin/env node
/**
 * CPU per publish of the embedded engine on memory://, in-process (no sockets): 200,000
 * single-record publishes of SIZE bytes, 100 in flight, four repetitions on fresh engines (the
 * first includes JIT warm-up). An A/B of builds: pass several checkout roots (each with dist/
 * built), run alternately.
 *
 *   npx tsc -p . && GLIBC_TUNABLES=$(cat bin/glibc-tunables) node bench/engine-publish-cpu.mjs [--size 512] [--rounds 3] ROOT [ROOT2 …]
 */
import path from 'node:path';

const argv = process.argv.slice(2);
const flag = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = argv[i + 1];
  argv.splice(i, 2);
  return v;
};
const size = Number(flag('size', '512'));
const rounds = Number(flag('rounds', '3'));
const roots = argv.length > 0 ? argv : ['.'];
const n = 200_000;

async function run(root) {
  const dist = (m) => path.resolve(root, 'dist', m);
  const { Engine } = await import(dist('engine/engine.js'));
  const { MemoryStorage } = await import(dist('engine/storage/memory.js'));
  const body = Buffer.alloc(size, 0x61);
  const out = [];
  for (let rep = 0; rep < 4; rep++) {
    const e = await Engine.open({ storage: new MemoryStorage() });
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i += 100) {
      const ps = [];
      for (let j = 0; j < 100; j++) ps.push(e.publish(`t${rep}`, [{ body }]));
      await Promise.all(ps);
    }
    const c = process.cpuUsage(c0);
    out.push((c.user + c.system) / n);
    await e.close();
  }
  return out;
}

if (process.env.ENGINE_PUBLISH_CHILD) {
  process.stdout.write(JSON.stringify(await run(process.env.ENGINE_PUBLISH_CHILD)));
} else {
  const { spawnSync } = await import('node:child_process');
  for (let r = 1; r <= rounds; r++) {
    for (const root of roots) {
      // A process per run: each build gets a fresh heap and JIT.
      const c = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--size', String(size)], { env: { ...process.env, ENGINE_PUBLISH_CHILD: root }, encoding: 'utf8' });
      if (c.status !== 0) throw new Error(c.stderr);
      const reps = JSON.parse(c.stdout);
      console.log(`round ${r} ${root} ${size} B: µs per publish, reps 1-4: ${reps.map((x) => x.toFixed(2)).join(' ')}`);
    }
  }
}

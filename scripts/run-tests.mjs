#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test (Node 20's runner takes no globs).
// Usage: node scripts/run-tests.mjs [dir-or-file ...]   (default: test/)
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

function collect(p, out) {
  if (statSync(p).isDirectory()) {
    for (const e of readdirSync(p).sort()) collect(join(p, e), out);
  } else if (p.endsWith('.test.ts')) out.push(p);
  return out;
}

const roots = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));
const files = (roots.length ? roots : ['test']).flatMap((r) => collect(r, []));
const child = spawn(
  process.execPath,
  ['--test', '--test-concurrency=2', '--import', 'tsx', ...flags, ...files],
  { stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

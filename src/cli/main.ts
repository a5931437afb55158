/**
 * `omnibus` command dispatch. main() never throws and never prints a stack trace for expected
 * failures: usage problems are one line + exit 2, engine errors (OmnibusError) one line + exit 1.
 * Output goes only through the injected io so tests capture it.
 */
import { readFileSync } from 'node:fs';
import { OmnibusError } from '../core/errors.js';
import { CommandError, UsageError, type CliIO } from './io.js';
import { benchHelp, benchSummary, runBench } from './commands/bench.js';
import { runServe, serveHelp, serveSummary } from './commands/serve.js';

export type { CliIO } from './io.js';

interface Command {
  summary: string;
  help(): string;
  run(argv: readonly string[], io: CliIO, version: string): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  serve: { summary: serveSummary, help: serveHelp, run: runServe },
  bench: { summary: benchSummary, help: () => benchHelp, run: runBench },
};

export function version(): string {
  // src/cli/main.ts and dist/cli/main.js both sit two levels below package.json.
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length)) + 2;
  return `Usage: omnibus <command> [flags]

One message-queue engine that speaks RabbitMQ, Redis, Kafka, ActiveMQ, MQTT,
RocketMQ and ZeroMQ - embedded or as a server.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`)
  .join('\n')}

Flags:
  -h, --help     show this help (omnibus <command> --help for a command's flags)
  -v, --version  print the version

Exit codes: 0 success, 1 runtime failure, 2 usage error.
`;
}

function defaultIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** Flags after "--" are operands, never help requests. */
function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

export async function main(argv: readonly string[], io: CliIO = defaultIO()): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined) {
      io.stderr.write(topHelp());
      return 2;
    }
    if (first === '--help' || first === '-h') {
      io.stdout.write(topHelp());
      return 0;
    }
    if (first === '--version' || first === '-v' || first === 'version') {
      if (rest.length > 0) throw new UsageError('', `unexpected argument "${rest[0] ?? ''}"`);
      io.stdout.write(`omnibus ${version()}\n`);
      return 0;
    }
    if (first === 'help') {
      const name = rest[0];
      if (name === undefined) {
        io.stdout.write(topHelp());
        return 0;
      }
      const c = COMMANDS[name];
      if (!c) throw new UsageError('', `unknown command "${name}"`);
      io.stdout.write(c.help());
      return 0;
    }
    if (first.startsWith('-')) throw new UsageError('', `unknown flag ${first}`);
    const cmd = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
    if (!cmd) throw new UsageError('', `unknown command "${first}"`);
    if (wantsHelp(rest)) {
      io.stdout.write(cmd.help());
      return 0;
    }
    return await cmd.run(rest, io, version());
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`omnibus: ${oneLine(e.message)} (see omnibus ${e.command ? e.command + ' ' : ''}--help)\n`);
      return 2;
    }
    if (e instanceof OmnibusError || e instanceof CommandError) {
      io.stderr.write(`omnibus: ${oneLine(e.message)}\n`);
      if (io.env.OMNIBUS_DEBUG) io.stderr.write(`${e.stack ?? ''}\n`);
      return 1;
    }
    // A bug or an unexpected system error: still one line unless asked for details.
    const msg = e instanceof Error ? e.message : String(e);
    io.stderr.write(`omnibus: ${oneLine(msg)}${io.env.OMNIBUS_DEBUG ? '' : ' (set OMNIBUS_DEBUG=1 for details)'}\n`);
    if (io.env.OMNIBUS_DEBUG) io.stderr.write(`${e instanceof Error ? (e.stack ?? '') : ''}\n`);
    return 1;
  }
}

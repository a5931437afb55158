import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execCli, isOneErrorLine, runCli } from './helpers.js';

test('omnibus --help lists the commands and exits 0', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: omnibus <command>/);
  assert.match(r.stdout, /\bserve\b/);
  assert.match(r.stdout, /\bbench\b/);
  assert.match(r.stdout, /--version/);
  assert.equal(r.stderr, '');
});

test('omnibus --version prints the package version', async () => {
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^omnibus \d+\.\d+\.\d+/);
});

test('omnibus serve --help mentions every flag and env var', async () => {
  const r = await runCli(['serve', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--data', '--memory', '--fsync', '--host', '--health-port', '--config', '--amqp-port', '--no-amqp', '--resp-port', '--kafka-port', '--stomp-port', '--mqtt-port', '--no-mqtt']) {
    assert.ok(r.stdout.includes(flag), `serve --help mentions ${flag}`);
  }
  for (const v of ['OMNIBUS_DATA', 'OMNIBUS_FSYNC', 'OMNIBUS_HOST', 'OMNIBUS_AMQP_PORT', 'OMNIBUS_CONFIG']) assert.ok(r.stdout.includes(v), `mentions ${v}`);
  assert.match(r.stdout, /flag > environment > config file > default/);
});

test('omnibus bench --help mentions every flag', async () => {
  const r = await runCli(['bench', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--count', '--sizes', '--storage', '--data', '--keep', '--fsync', '--publishers', '--batch', '--prefetch', '--json', '--target', '--quiet', '--ack', '--read']) {
    assert.ok(r.stdout.includes(flag), `bench --help mentions ${flag}`);
  }
});

test('help <command> and --help after other flags show the command help', async () => {
  assert.match((await runCli(['help', 'bench'])).stdout, /Usage: omnibus bench/);
  const r = await runCli(['serve', '--memory', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: omnibus serve/);
});

test('an unknown flag exits 2 with one line pointing at the help', async () => {
  for (const argv of [['bench', '--bogus'], ['serve', '--nope=1'], ['--frob']]) {
    const r = await runCli(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.ok(isOneErrorLine(r.stderr), `one line: ${r.stderr}`);
    assert.match(r.stderr, /unknown flag --\w+/);
    assert.match(r.stderr, /\(see omnibus (\w+ )?--help\)/);
  }
});

test('bad values, missing values, positionals and unknown commands exit 2 with one line', async () => {
  const cases: [string[], RegExp][] = [
    [['frob'], /unknown command "frob" \(see omnibus --help\)/],
    [['bench', '--count'], /--count needs a value \(see omnibus bench --help\)/],
    [['bench', '--count', 'lots'], /--count must be an integer/],
    [['bench', '--sizes', '128,5'], /--sizes must be an integer >= 10/],
    [['bench', '--storage', 'tape'], /--storage must be memory or file/],
    [['bench', '--target', 'memory://', '--storage', 'file'], /cannot be combined with --target/],
    [['bench', '--data', '/tmp/x', '--storage', 'memory'], /--data needs --storage file/],
    [['serve', '--fsync', 'sometimes'], /--fsync must be one of always\|interval\|never/],
    [['serve', '--health-port', '70000'], /--health-port must be a port/],
    [['serve', '--memory', '--data', 'x'], /contradict/],
    [['serve', 'extra'], /unexpected argument "extra"/],
    [['serve', '--memory=yes'], /--memory does not take a value/],
  ];
  for (const [argv, re] of cases) {
    const r = await runCli(argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.ok(isOneErrorLine(r.stderr), `one line for ${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

test('no command prints the help to stderr and exits 2', async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Usage: omnibus/);
});

test('a real process: unknown flag gives exit 2, one line, no stack trace', async () => {
  const r = await execCli(['bench', '--bogus']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.ok(isOneErrorLine(r.stderr), r.stderr);
});

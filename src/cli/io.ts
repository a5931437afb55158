/**
 * The CLI's view of the outside world, injected so tests capture output and drive env without
 * touching the real process. Only the CLI writes to stdout/stderr; library code never does.
 */
export interface OutStream {
  write(chunk: string): unknown;
  /** Set on a terminal: the bench draws a progress bar only then. */
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface CliIO {
  stdout: OutStream;
  stderr: OutStream;
  env: Readonly<Record<string, string | undefined>>;
  /**
   * `omnibus serve` shuts down gracefully when this is aborted (in addition to SIGTERM/SIGINT), so
   * it can be stopped in-process.
   */
  signal?: AbortSignal;
  /** Whether serve installs SIGTERM/SIGINT handlers; default true. In-process tests turn it off. */
  handleSignals?: boolean;
}

/**
 * A problem with how the command was invoked (exit code 2). `command` names the --help to point at
 * ('' for the top level).
 */
export class UsageError extends Error {
  readonly command: string;
  constructor(command: string, message: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** A command ran and failed for a reason that is not an OmnibusError (exit code 1, one line). */
export class CommandError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CommandError';
  }
}

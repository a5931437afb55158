/**
 * Runs the CLI straight from source (`node --import tsx src/cli/entry.ts ...`), as bin/omnibus.js
 * does from dist/. Kept in step with bin/omnibus.js.
 */
import { main } from './main.js';

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Exit naturally so piped stdout is flushed; if a leaked handle would keep the process alive,
// leave anyway after a grace period (the timer itself does not hold the process).
setTimeout(() => process.exit(code), 2000).unref();

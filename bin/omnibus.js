#!/usr/bin/env node
// The omnibus command. Runs the compiled CLI (npm run build writes dist/).
import { main } from '../dist/cli/main.js';

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Exit naturally so piped stdout is flushed; if a leaked handle would keep the process alive,
// leave anyway after a grace period (the timer itself does not hold the process).
setTimeout(() => process.exit(code), 2000).unref();

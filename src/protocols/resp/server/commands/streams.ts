import type { CommandSpec } from './types.js';
const commands: CommandSpec[] = [];
export default commands;

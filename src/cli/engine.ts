/**
 * Loads the engine (which registers the memory:// and file:// schemes) only when a command needs it,
 * so `omnibus --help` and usage errors stay instant and work even if the engine fails to load.
 */
export async function loadEngine(): Promise<typeof import('../core/registry.js')> {
  await import('../index.js');
  return import('../core/registry.js');
}

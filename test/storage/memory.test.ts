import { MemoryStorage } from '../../src/engine/storage/memory.js';
import { storageSuite } from './storage-suite.js';

storageSuite('memory', async () => ({
  engine: new MemoryStorage(),
  cleanup: async () => {},
}));

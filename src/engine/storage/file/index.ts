export { FileStorage } from './file-storage.js';
export type { FileStorageOptions, StorageLogger } from './file-storage.js';

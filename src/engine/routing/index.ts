export * from './topic-trie.js';
export * from './exchange.js';

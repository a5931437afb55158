export { compileSelector, likeRegExp, DEFAULT_MAX_DEPTH, DEFAULT_MAX_LENGTH } from './selector.js';
export type { Selector, SelectorOptions, PropertySource } from './selector.js';
export { compileTagFilter } from './tag-filter.js';
export type { TagFilter } from './tag-filter.js';

/**
 * RocketMQ tag filters: `*` (or blank) selects every message; otherwise `TagA || TagB || ...`
 * selects messages whose tag is one of the listed tags (exact, case-sensitive, whitespace around
 * each tag trimmed), as RocketMQ's `FilterAPI.buildSubscriptionData`.
 *
 * Decisions: a message without a tag is selected only by `*`. Inside a list, `*` is an ordinary
 * tag (RocketMQ does the same). A non-blank expression that lists no tag at all (`||`, `  || `)
 * is rejected with MQ_ERR_SELECTOR instead of silently selecting nothing, as RocketMQ would.
 * Not done here: RocketMQ's tag hash codes (a broker-side prefilter; a Set lookup is as cheap).
 */

import { err } from '../../core/errors.js';

export interface TagFilter {
  /** The expression as given. */
  readonly expression: string;
  /** True for `*` / blank. */
  readonly all: boolean;
  /** The listed tags (empty when `all`). */
  readonly tags: ReadonlySet<string>;
  matches(tag: string | null | undefined): boolean;
}

export function compileTagFilter(expression: string): TagFilter {
  if (typeof expression !== 'string') throw err('MQ_ERR_SELECTOR', 'a tag filter must be a string');
  const trimmed = expression.trim();
  if (trimmed === '' || trimmed === '*') {
    return { expression, all: true, tags: new Set(), matches: () => true };
  }
  const tags = new Set(
    expression
      .split('||')
      .map((t) => t.trim())
      .filter((t) => t !== ''),
  );
  if (tags.size === 0) throw err('MQ_ERR_SELECTOR', `invalid tag filter ${JSON.stringify(expression)}: it lists no tag`);
  return {
    expression,
    all: false,
    tags,
    matches: (tag) => tag !== null && tag !== undefined && tags.has(tag),
  };
}

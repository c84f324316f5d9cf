/**
 * One part of a store key (an identity, a server name, an issuer…), URL-encoded so that no part
 * can run into another. Text that is not well-formed Unicode (a lone surrogate) is refused:
 * encoding it would need it replaced first, and two different parts (`'u\uD800'`, `'u\uDBFF'`,
 * `'u\uFFFD'`) would then share one key, and so one user's tokens.
 *
 * @module
 */
import { McpAgentError } from '../errors.js';

/** `part` URL-encoded; `USAGE` (not quoting it) when it is not well-formed Unicode. */
export function keyPart(part: string): string {
  if (!part.isWellFormed()) {
    throw new McpAgentError(
      'USAGE',
      'A store key cannot be made of text that is not well-formed Unicode (a lone surrogate; it is not shown): it would share its key with other text.',
    );
  }
  return encodeURIComponent(part);
}

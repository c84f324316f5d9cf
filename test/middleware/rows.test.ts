/**
 * Which rows of the attack table each adapter runs (test/middleware/suite.ts): a row that does not
 * apply is not registered, rather than registered and passing without a check (review 16 #16:
 * the session rows returned early on stateless servers).
 */
import { expect, test } from 'vitest';
import { ADAPTERS } from './adapters.js';
import { ATTACK_ROWS, rowsFor } from './suite.js';

const ids = (rows: readonly { id: string }[]) => rows.map((row) => row.id);

test('the session rows run only where the server keeps sessions; the others run everywhere', () => {
  const sessionRows = ids(ATTACK_ROWS.filter((row) => row.sessionsOnly));
  expect(sessionRows).toEqual(['IN-79', 'IN-79 cap']);
  for (const adapter of Object.values(ADAPTERS)) {
    const run = ids(rowsFor(adapter));
    for (const id of sessionRows)
      expect(run.includes(id), `${adapter.name} ${id}`).toBe(adapter.sessions);
    expect(run.includes('closed'), adapter.name).toBe(adapter.name !== 'serve');
    const others = ATTACK_ROWS.filter((row) => !row.sessionsOnly && !row.middlewareOnly);
    expect(run, adapter.name).toEqual(expect.arrayContaining(ids(others)));
  }
  expect(ids(rowsFor(ADAPTERS.hono))).not.toContain('IN-79');
  expect(ids(rowsFor(ADAPTERS['node-v2']))).not.toContain('IN-79 cap');
});

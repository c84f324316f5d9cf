/**
 * The session owners of the middleware (IN-79): a session is found only for the principal that
 * opened it, one principal holds at most its cap (the least recently used goes), and the table
 * holds at most its total (anyone's least recently used goes).
 */
import { expect, test } from 'vitest';
import { SessionOwners } from '../../src/middleware/sessions.js';

test('a session is its opener’s only; a forgotten one is nobody’s', () => {
  const owners = new SessionOwners({ total: 10, perPrincipal: 4 });
  owners.bind('s1', 'alice');
  expect(owners.owns('s1', 'alice')).toBe(true);
  expect(owners.owns('s1', 'bob')).toBe(false);
  expect(owners.owns('unknown', 'alice')).toBe(false);
  owners.forget('s1');
  expect(owners.owns('s1', 'alice')).toBe(false);
  expect(owners.size).toBe(0);
});

test('one more session than the cap gives up the principal’s least recently used, no one else’s', () => {
  const owners = new SessionOwners({ total: 100, perPrincipal: 3 });
  owners.bind('b1', 'bob');
  for (const id of ['a1', 'a2', 'a3']) owners.bind(id, 'alice');
  expect(owners.owns('a1', 'alice')).toBe(true); // a2 is now the least recently used
  owners.bind('a4', 'alice');
  expect(['a1', 'a2', 'a3', 'a4'].map((id) => owners.owns(id, 'alice'))).toEqual([
    true,
    false,
    true,
    true,
  ]);
  expect(owners.owns('b1', 'bob')).toBe(true);
});

test('beyond the total, the least recently used of anyone goes', () => {
  const owners = new SessionOwners({ total: 3, perPrincipal: 3 });
  owners.bind('a1', 'alice');
  owners.bind('b1', 'bob');
  owners.bind('c1', 'carol');
  expect(owners.owns('a1', 'alice')).toBe(true);
  owners.bind('d1', 'dave');
  expect(owners.size).toBe(3);
  expect(owners.owns('b1', 'bob')).toBe(false);
  expect(owners.owns('a1', 'alice')).toBe(true);
});

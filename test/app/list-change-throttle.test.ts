/**
 * The pace of list changes `serve` passes on (list-change-throttle.ts): a downstream server that
 * floods `list_changed` reaches the callers at most once per window per list and principal, the
 * first change at once and the rest of a window as one at its end; different lists and
 * principals do not hold each other up.
 */
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { throttleListChanges } from '../../src/app/list-change-throttle.js';
import type { ListKind } from '../../src/servers/registry.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function recorder() {
  const sent: string[] = [];
  const throttle = throttleListChanges((kind: ListKind, principal?: string) => {
    sent.push(principal === undefined ? kind : `${kind}:${principal}`);
  }, 1_000);
  return { sent, throttle };
}

test('a flood of one list change is announced twice: at once, then once at the end of the window', () => {
  const { sent, throttle } = recorder();
  for (let i = 0; i < 1_000; i++) throttle.announce('tools');
  expect(sent).toEqual(['tools']);
  vi.advanceTimersByTime(999);
  expect(sent).toEqual(['tools']);
  vi.advanceTimersByTime(1);
  expect(sent).toEqual(['tools', 'tools']);
  // Nothing more came: the next window closes quietly, and a later change goes out at once.
  vi.advanceTimersByTime(1_000);
  expect(sent).toEqual(['tools', 'tools']);
  throttle.announce('tools');
  expect(sent).toEqual(['tools', 'tools', 'tools']);
  throttle.close();
});

test('lists and principals have windows of their own', () => {
  const { sent, throttle } = recorder();
  throttle.announce('tools');
  throttle.announce('prompts');
  throttle.announce('tools', 'alice');
  throttle.announce('tools', 'bob');
  throttle.announce('tools', 'alice');
  expect(sent).toEqual(['tools', 'prompts', 'tools:alice', 'tools:bob']);
  vi.advanceTimersByTime(1_000);
  expect(sent).toEqual(['tools', 'prompts', 'tools:alice', 'tools:bob', 'tools:alice']);
  throttle.close();
});

test('close drops what is pending', () => {
  const { sent, throttle } = recorder();
  throttle.announce('resources');
  throttle.announce('resources');
  throttle.close();
  vi.advanceTimersByTime(5_000);
  expect(sent).toEqual(['resources']);
});

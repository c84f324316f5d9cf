/**
 * A session's log on its own: the level, the tag of downstream messages, the rate limit with its
 * one warning per burst (on an injected clock), and the app's lines scrubbed and summarised.
 */
import type { LoggingMessageNotification } from '@modelcontextprotocol/sdk/types.js';
import { expect, test } from 'vitest';
import type { Logger } from '../../src/logger.js';
import { SessionLog, teeToSession } from '../../src/server/session-log.js';

function setup(maxMessages = 3) {
  let now = 1_000;
  const sent: LoggingMessageNotification['params'][] = [];
  const warnings: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} };
  const log = new SessionLog({
    name: 'app',
    logger,
    maxMessages,
    windowMs: 10_000,
    now: () => now,
    send: async (notification) => {
      sent.push(notification.params);
    },
  });
  return { log, sent, warnings, logger, advance: (ms: number) => (now += ms) };
}

test('a downstream message is tagged with the server and sent at or above the level', () => {
  const { log, sent } = setup();
  log.message('docs', { level: 'debug', data: 'below info' });
  log.message('docs', { level: 'warning', data: 'kept', logger: 'db\u001b[31m' });
  log.level = 'debug';
  log.message('docs', { level: 'debug', data: 'now kept' });
  expect(sent).toEqual([
    { level: 'warning', logger: 'docs/db[31m', data: 'kept' },
    { level: 'debug', logger: 'docs', data: 'now kept' },
  ]);
});

test('past the limit messages are dropped with one warning per burst; the next window sends again', () => {
  const { log, sent, warnings, advance } = setup(3);
  for (let i = 0; i < 10; i++) log.message('flood', { level: 'info', data: i });
  expect(sent.map((params) => params.data)).toEqual([0, 1, 2]);
  expect(warnings).toEqual(['log messages to a session are dropped: more than 3 in 10 s']);
  advance(10_000);
  for (let i = 10; i < 15; i++) log.message('flood', { level: 'info', data: i });
  expect(sent.map((params) => params.data)).toEqual([0, 1, 2, 10, 11, 12]);
  expect(warnings).toHaveLength(2);
});

test("the app's lines reach the session scrubbed, summarised, at its level; the app's log has them whole", () => {
  const { log, sent } = setup(10);
  const lines: string[] = [];
  const app: Logger = {
    debug: (m) => lines.push(m),
    info: (m) => lines.push(m),
    warn: (m) => lines.push(m),
    error: (m) => lines.push(m),
  };
  const tee = teeToSession(
    app,
    log,
    (text) => text.replaceAll('s3cr3t-value', '[redacted]'),
    (message) => message.split(': ')[0] ?? message,
  );
  tee.warn('tool "x" failed: at https://host/?k=1', { tool: 'x s3cr3t-value' });
  tee.debug('below the level');
  expect(sent).toEqual([
    {
      level: 'warning',
      logger: 'app',
      data: { message: 'tool "x" failed', tool: 'x [redacted]' },
    },
  ]);
  expect(lines).toEqual(['tool "x" failed: at https://host/?k=1', 'below the level']);
  expect(teeToSession(app, undefined, (text) => text)).toBe(app);
});

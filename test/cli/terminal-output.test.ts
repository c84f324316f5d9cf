/**
 * What the terminal dialogues write (src/cli/terminal-questions.ts and the dialogues on it): a
 * server's text in every field it supplies (its name, a form's message, field names, titles,
 * descriptions, defaults, `enumNames`, `oneOf` titles, a `pattern`; a URL, an `elicitationId`;
 * a sampling request's system prompt and messages, and the model's answer shown) reaches the
 * terminal without any escape sequence, control character, bidi control or zero-width character;
 * the line breaks the dialogues put are kept. Also: the long-lived line reader keeps pasted lines,
 * the heading names the mode's way to cancel, sampling is capped per command, and without a
 * terminal sampling is declared only on `--provider` (never by a command that answers none).
 */
import { PassThrough } from 'node:stream';
import type { CreateMessageResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, test } from 'vitest';
import { elicitAtTerminal, elicitationCompleted } from '../../src/cli/elicitation.js';
import type { CliIo, Output } from '../../src/cli/io.js';
import { MAX_REQUESTS, REFUSED_CODE, TerminalSampling } from '../../src/cli/sampling.js';
import { type Sampler, type SamplingParams, stopReasonOf } from '../../src/cli/sampling-model.js';
import { terminalPeer } from '../../src/cli/terminal-peer.js';
import {
  forTerminal,
  type LineSource,
  stdinLines,
  TerminalQuestions,
} from '../../src/cli/terminal-questions.js';

/** ESC sequences (CSI, OSC with BEL), C1 controls, CR, bidi overrides and zero-width characters. */
const EVIL = '\u001b[2J\u001b]0;pwned\u0007\u009b31m\r\u202egro.elgoog\u2066\u200b\ufeff\u0008';
const evil = (text: string) => `${text}${EVIL}`;

/** What must never be written: controls but \t and \n, DEL, C1, format and separator characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const FORBIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\p{Cf}\u2028\u2029]/u;

const noSignal = new AbortController().signal;

/** Questions written to `screen`, answered by `lines` in turn (then the end of input). */
function terminal(lines: string[], cancelHint?: string) {
  const screen: string[] = [];
  const source: LineSource = { readLine: async () => lines.shift() };
  const questions = new TerminalQuestions(
    { write: (text: string) => screen.push(text) },
    source,
    () => () => {},
    cancelHint,
  );
  return { questions, screen };
}

const FORM_SCHEMA = {
  type: 'object' as const,
  properties: {
    [evil('name')]: {
      type: 'string' as const,
      title: evil('Title'),
      description: evil('Description'),
      default: evil('default'),
      pattern: evil('^[a-z]+$'),
    },
    count: { type: 'integer' as const, title: evil('Count') },
    colour: {
      type: 'string' as const,
      enum: ['r', 'g'],
      enumNames: [evil('Red'), evil('Green')],
      default: 'g',
    },
    fish: {
      type: 'array' as const,
      items: { anyOf: [{ const: 'f1', title: evil('Tuna') }] },
      default: ['f1'],
    },
    hero: { type: 'string' as const, oneOf: [{ const: 'h1', title: evil('Hero') }] },
  },
};

describe("a server's text at the terminal", () => {
  test('a form: nothing written holds a control, bidi or zero-width character', async () => {
    // Answer, Enter (default), a bad number echoing what was typed, 3, Enter, Enter, 1, send.
    const { questions, screen } = terminal(['y', '', evil('x'), '3', '', '', '1', 'y']);
    const result = await elicitAtTerminal(
      questions,
      evil('server'),
      { mode: 'form', message: evil('Line one\nLine two'), requestedSchema: FORM_SCHEMA },
      { signal: noSignal },
    );
    expect(result).toMatchObject({ action: 'accept', content: { count: 3, colour: 'g' } });
    const written = screen.join('');
    expect(written).not.toMatch(FORBIDDEN);
    // The text itself is still there, and so are the dialogue's line breaks.
    for (const text of ['Title', 'Description', 'default', 'Green', 'Tuna', 'Hero', 'server']) {
      expect(written).toContain(text);
    }
    expect(written).toContain('Line one\nLine two');
    expect(written).not.toContain('^[a-z]+$'); // a pattern is not read (not in MCP's schema)
  });

  test('a URL elicitation and its completion', async () => {
    const { questions, screen } = terminal(['']);
    const result = await elicitAtTerminal(
      questions,
      evil('server'),
      {
        mode: 'url',
        message: evil('Open this'),
        url: `https://example.com/${EVIL}`,
        elicitationId: evil('id'),
      },
      { signal: noSignal },
    );
    expect(result).toEqual({ action: 'accept' });
    elicitationCompleted(questions, evil('server'), evil('id-1'));
    const written = screen.join('');
    expect(written).not.toMatch(FORBIDDEN);
    expect(written).toContain('https://example.com/');
    expect(written).toContain('id-1');
  });

  test("a sampling request: its messages, its system prompt and the model's answer", async () => {
    const { questions, screen } = terminal(['y', 'y']);
    const answer: CreateMessageResult = {
      role: 'assistant',
      content: { type: 'text', text: evil('The answer\nis 42') },
      model: 'm',
      stopReason: evil('endTurn'),
    };
    const sampler: Sampler = { name: 'test model', sample: async () => answer };
    const sampling = new TerminalSampling(sampler, questions, (line) => screen.push(line));
    const params: SamplingParams = {
      systemPrompt: evil('System'),
      messages: [
        { role: 'user', content: { type: 'text', text: evil('Hello') } },
        { role: 'assistant', content: [{ type: 'text', text: evil('Hi') }] },
      ],
      maxTokens: 100_000,
    };
    expect(await sampling.answer(evil('server'), params, { signal: noSignal })).toBe(answer);
    const written = screen.join('');
    expect(written).not.toMatch(FORBIDDEN);
    expect(written).toContain('The answer\n');
    expect(written).toContain('at most 4096 tokens (asked for 100000)');
  });

  test('without a terminal, the note of a request is one clean line', async () => {
    const notes: string[] = [];
    const sampler: Sampler = {
      name: 'test model',
      sample: async () => ({ role: 'assistant', content: { type: 'text', text: '' }, model: 'm' }),
    };
    const sampling = new TerminalSampling(sampler, undefined, (line) => notes.push(line));
    await sampling.answer(evil('ser\nver'), { messages: [], maxTokens: 1 }, { signal: noSignal });
    expect(notes.join('')).not.toMatch(FORBIDDEN);
    expect(notes.join('')).not.toContain('\n');
  });

  test('forTerminal keeps line breaks and removes the rest', () => {
    expect(forTerminal(`a${EVIL}\nb\tc`)).toBe('a[2J]0;pwned31mgro.elgoog\nb c');
  });
});

describe('the dialogues', () => {
  test("the heading names the mode's way to cancel (Ctrl-D ends a chat: Ctrl-C there)", async () => {
    const form = {
      mode: 'form' as const,
      message: 'm',
      requestedSchema: { type: 'object' as const, properties: {} },
    };
    const plain = terminal(['n']);
    await elicitAtTerminal(plain.questions, 's', form, { signal: noSignal });
    expect(plain.screen.join('')).toContain('(Ctrl-D cancels)');
    const chat = terminal(['n'], 'Ctrl-C cancels, with the turn');
    await elicitAtTerminal(chat.questions, 's', form, { signal: noSignal });
    expect(chat.screen.join('')).toContain('(Ctrl-C cancels, with the turn)');
    expect(chat.screen.join('')).not.toContain('Ctrl-D');
  });

  test('lines pasted together are each an answer, none lost; the end of input ends them', async () => {
    const input = new PassThrough();
    const lines = stdinLines(input);
    const first = lines.readLine(noSignal);
    input.write('one\ntwo\nthree\n');
    expect(await first).toBe('one');
    expect(await lines.readLine(noSignal)).toBe('two');
    expect(await lines.readLine(noSignal)).toBe('three');
    const aborted = new AbortController();
    const withdrawn = lines.readLine(aborted.signal);
    aborted.abort();
    expect(await withdrawn).toBeUndefined();
    const fourth = lines.readLine(noSignal);
    input.end('four\n');
    expect(await fourth).toBe('four');
    expect(await lines.readLine(noSignal)).toBeUndefined();
  });

  test(`sampling: at most ${MAX_REQUESTS} requests per command, then refused`, async () => {
    let sampled = 0;
    const notes: string[] = [];
    const sampler: Sampler = {
      name: 'test model',
      sample: async () => {
        sampled += 1;
        return { role: 'assistant', content: { type: 'text', text: 'ok' }, model: 'm' };
      },
    };
    const sampling = new TerminalSampling(sampler, undefined, (line) => notes.push(line));
    const params: SamplingParams = { messages: [], maxTokens: 10 };
    for (let i = 0; i < MAX_REQUESTS; i += 1) {
      await sampling.answer('s', params, { signal: noSignal });
    }
    const refused = sampling.answer('s', params, { signal: noSignal });
    await expect(refused).rejects.toMatchObject({ code: REFUSED_CODE });
    await expect(refused).rejects.toThrow(`at most ${MAX_REQUESTS} sampling requests`);
    expect(sampled).toBe(MAX_REQUESTS);
    expect(notes.at(-1)).toContain('refused');
  });

  test("the model's stop reason in MCP's words", () => {
    expect(stopReasonOf('stop', 'stop')).toBe('endTurn');
    expect(stopReasonOf('stop', 'end_turn')).toBe('endTurn');
    expect(stopReasonOf('stop', 'stop_sequence')).toBe('stopSequence');
    expect(stopReasonOf('length', 'max_tokens')).toBe('maxTokens');
    expect(stopReasonOf('tool-calls', 'tool_use')).toBe('toolUse');
    expect(stopReasonOf('content-filter')).toBe('contentFilter');
    expect(stopReasonOf('error')).toBeUndefined();
    expect(stopReasonOf('other', 'weird')).toBeUndefined();
  });
});

describe('what the terminal peer declares without a terminal', () => {
  const io = { env: {}, cwd: '/', stdin: undefined, stderrIsTTY: false } as unknown as CliIo;
  const peer = (options: { provider?: string; sampling?: boolean }) =>
    terminalPeer({
      io,
      out: {} as Output,
      // A configured provider: not read without a terminal.
      settings: { openai: { api_key: 'k' } } as never,
      modelOptions: () => ({}),
      ...options,
    });

  test('sampling only with --provider; nothing for a command that answers no sampling', () => {
    expect(peer({})).toBeUndefined();
    expect(peer({ provider: 'openai' })?.capabilities).toEqual({ sampling: {} });
    expect(peer({ provider: 'openai', sampling: false })).toBeUndefined();
  });
});

/**
 * The fields of a form elicitation asked one by one (src/cli/elicitation-form.ts), with the
 * person's lines injected: each kind of field (SEP-1330's enum shapes included) parsed and checked
 * against its schema, defaults on Enter, required fields, an invalid answer asked again, and the
 * end of input cancelling.
 */
import { describe, expect, test } from 'vitest';
import {
  answerLines,
  askFields,
  choicesOf,
  type Field,
  fieldQuestion,
  formFields,
  parseAnswer,
} from '../../src/cli/elicitation-form.js';
import type { Ask } from '../../src/cli/terminal-questions.js';

const field = (schema: Field['schema'], required = false): Field => ({
  name: 'f',
  schema,
  required,
});

/** An {@link Ask} answering with `lines` in turn (then the end of input), recording the screen. */
function scripted(lines: string[]): Ask & { screen: string[] } {
  const screen: string[] = [];
  return {
    screen,
    ask: async (question) => {
      screen.push(question);
      return lines.shift();
    },
    tell: (line) => {
      screen.push(line);
    },
  };
}

describe('parseAnswer', () => {
  test('text: length and the formats MCP allows; a pattern (not in MCP) is not run', () => {
    const pattern = '^(a+)+$';
    const text = field({ type: 'string', minLength: 2, maxLength: 4, pattern } as Field['schema']);
    expect(parseAnswer(text, ' abc ')).toEqual({ value: 'abc' });
    expect(parseAnswer(text, 'a')).toEqual({ error: 'at least 2 characters, please' });
    expect(parseAnswer(text, 'abcde')).toEqual({ error: 'at most 4 characters, please' });
    expect(parseAnswer(text, 'AB')).toEqual({ value: 'AB' });
    expect(fieldQuestion({ ...text, name: 'x' }).at(-1)).toBe(
      '  [text, 2 to 4 characters; Enter: leave out] > ',
    );
    // A catastrophic expression on a long answer would hang the CLI: it is never run.
    const long = field({ type: 'string', pattern } as Field['schema']);
    expect(parseAnswer(long, `${'a'.repeat(40)}!`)).toHaveProperty('value');
    const format = (name: string) => field({ type: 'string', format: name });
    expect(parseAnswer(format('email'), 'a@b.org')).toEqual({ value: 'a@b.org' });
    expect(parseAnswer(format('email'), 'a@b')).toHaveProperty('error');
    expect(parseAnswer(format('uri'), 'https://example.com/x')).toHaveProperty('value');
    expect(parseAnswer(format('uri'), 'example dot com')).toHaveProperty('error');
    expect(parseAnswer(format('date'), '2024-02-29')).toHaveProperty('value');
    expect(parseAnswer(format('date'), '2023-02-29')).toHaveProperty('error');
    expect(parseAnswer(format('date-time'), '2024-02-29T10:00:00Z')).toHaveProperty('value');
    expect(parseAnswer(format('date-time'), '2024-02-29 noon')).toHaveProperty('error');
  });

  test('numbers and integers within their bounds; booleans as y/n', () => {
    const integer = field({ type: 'integer', minimum: 1, maximum: 10 });
    expect(parseAnswer(integer, '7')).toEqual({ value: 7 });
    expect(parseAnswer(integer, '7.5')).toEqual({ error: '7.5 is not a whole number' });
    expect(parseAnswer(integer, '0')).toEqual({ error: '0 is less than 1' });
    expect(parseAnswer(integer, '11')).toEqual({ error: '11 is more than 10' });
    expect(parseAnswer(integer, '0x10')).toEqual({ error: '"0x10" is not a number' });
    expect(parseAnswer(field({ type: 'number' }), '-2.5e1')).toEqual({ value: -25 });
    const boolean = field({ type: 'boolean' });
    expect(parseAnswer(boolean, 'Yes')).toEqual({ value: true });
    expect(parseAnswer(boolean, 'n')).toEqual({ value: false });
    expect(parseAnswer(boolean, 'maybe')).toEqual({ error: 'answer y or n' });
  });

  test('empty answers: the default, left out when optional, refused when required', () => {
    expect(parseAnswer(field({ type: 'string', default: 'x' }), '')).toEqual({ value: 'x' });
    expect(parseAnswer(field({ type: 'string' }), '  ')).toEqual({ omitted: true });
    expect(parseAnswer(field({ type: 'string' }, true), '')).toEqual({
      error: 'an answer is required',
    });
  });

  test('single choices: enum, enum with enumNames, oneOf; by number, value or label', () => {
    const plain = field({ type: 'string', enum: ['red', 'green'] });
    const legacy = field({ type: 'string', enum: ['p1', 'p2'], enumNames: ['Cats', 'Dogs'] });
    const titled = field({
      type: 'string',
      oneOf: [
        { const: 'h1', title: 'Superman' },
        { const: 'h2', title: 'Wonder Woman' },
      ],
    });
    expect(parseAnswer(plain, '2')).toEqual({ value: 'green' });
    expect(parseAnswer(plain, 'RED')).toEqual({ value: 'red' });
    expect(parseAnswer(plain, '3')).toEqual({ error: '"3" is none of the choices (1 to 2)' });
    expect(parseAnswer(legacy, 'dogs')).toEqual({ value: 'p2' });
    expect(parseAnswer(titled, 'wonder woman')).toEqual({ value: 'h2' });
    expect(parseAnswer(titled, 'h1')).toEqual({ value: 'h1' });
    expect(choicesOf(legacy.schema)).toEqual({
      multiple: false,
      choices: [
        { value: 'p1', label: 'Cats' },
        { value: 'p2', label: 'Dogs' },
      ],
    });
  });

  test('several choices: items.enum and items.anyOf, counted against minItems and maxItems', () => {
    const several = field({
      type: 'array',
      minItems: 1,
      maxItems: 2,
      items: { type: 'string', enum: ['a', 'b', 'c'] },
    });
    expect(parseAnswer(several, '1, c, 1')).toEqual({ value: ['a', 'c'] });
    expect(parseAnswer(several, '1,2,3')).toEqual({ error: 'choose at most 2' });
    expect(parseAnswer(several, 'a, z')).toEqual({ error: '"z" is none of the choices (1 to 3)' });
    const titled = field({
      type: 'array',
      items: {
        anyOf: [
          { const: 'f1', title: 'Tuna' },
          { const: 'f2', title: 'Salmon' },
        ],
      },
      default: ['f2'],
    });
    expect(parseAnswer(titled, 'tuna')).toEqual({ value: ['f1'] });
    expect(parseAnswer(titled, '')).toEqual({ value: ['f2'] });
    expect(fieldQuestion({ ...titled, name: 'fish' }).at(-1)).toBe(
      '  [numbers or values separated by commas; Enter: Salmon] > ',
    );
  });
});

describe('defaults', () => {
  test('a default that does not fit its own schema is neither offered nor taken', () => {
    const misfits: Field['schema'][] = [
      { type: 'string', enum: ['a', 'b'], default: 'c' },
      { type: 'string', maxLength: 3, default: 'too long' },
      { type: 'string', format: 'email', default: 'nobody' },
      { type: 'string', default: 42 },
      { type: 'integer', minimum: 1, maximum: 10, default: 11 },
      { type: 'integer', default: 1.5 },
      { type: 'number', default: '3' },
      { type: 'boolean', default: 'yes' },
      { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 1, default: ['a', 'b'] },
      { type: 'array', items: { enum: ['a', 'b'] }, default: ['z'] },
      { type: 'array', items: { enum: ['a', 'b'] }, default: 'a' },
    ];
    for (const schema of misfits) {
      const optional = field(schema);
      expect(parseAnswer(optional, ''), JSON.stringify(schema)).toEqual({ omitted: true });
      expect(fieldQuestion(optional).at(-1), JSON.stringify(schema)).toContain('Enter: leave out');
      const required = field(schema, true);
      expect(parseAnswer(required, '')).toEqual({ error: 'an answer is required' });
      expect(fieldQuestion(required).at(-1)).toContain('; required] > ');
    }
  });

  test('a default that fits is offered and taken', () => {
    const fits: [Field['schema'], string][] = [
      [{ type: 'string', enum: ['a', 'b'], enumNames: ['A', 'B'], default: 'b' }, 'Enter: B'],
      [{ type: 'string', maxLength: 3, default: 'abc' }, 'Enter: abc'],
      [{ type: 'integer', minimum: 1, maximum: 10, default: 10 }, 'Enter: 10'],
      [{ type: 'boolean', default: false }, 'Enter: no'],
      [{ type: 'array', items: { enum: ['a', 'b'] }, maxItems: 2, default: ['a', 'b'] }, 'a, b'],
    ];
    for (const [schema, shown] of fits) {
      expect(parseAnswer(field(schema), '')).toEqual({ value: schema.default });
      expect(fieldQuestion(field(schema)).at(-1)).toContain(shown);
    }
  });
});

describe('askFields', () => {
  const fields = formFields({
    type: 'object',
    properties: {
      name: { type: 'string', title: 'Name', description: 'Your name' },
      age: { type: 'integer', minimum: 0, default: 30 },
      pet: { type: 'string', enum: ['cat', 'dog'] },
      note: { type: 'string' },
    },
    required: ['name'],
  });

  test('asks each field until its answer is valid; Enter takes the default or leaves out', async () => {
    const ask = scripted(['', 'Ada', '-1', '', 'dog', '']);
    const answers = await askFields(ask, fields);
    expect(answers).toEqual({ name: 'Ada', age: 30, pet: 'dog' });
    expect(ask.screen).toContain('name (Name): Your name');
    expect(ask.screen).toContain('  ✗ an answer is required; try again.');
    expect(ask.screen).toContain('  ✗ -1 is less than 0; try again.');
    expect(ask.screen).toContain('  [a whole number, at least 0; Enter: 30] > ');
    expect(ask.screen).toContain('  2) dog');
    expect(answerLines(fields, answers ?? {})).toEqual([
      '  name: Ada',
      '  age: 30',
      '  pet: dog',
      '  note: (left out)',
    ]);
  });

  test('answered again, the previous answers are what Enter takes', async () => {
    const ask = scripted(['', '', '', 'hello']);
    expect(await askFields(ask, fields, { name: 'Ada', age: 31, pet: 'cat' })).toEqual({
      name: 'Ada',
      age: 31,
      pet: 'cat',
      note: 'hello',
    });
  });

  test('the end of input cancels the form', async () => {
    expect(await askFields(scripted(['Ada']), fields)).toBeUndefined();
  });

  test("a server's control characters never reach the terminal", () => {
    const lines = fieldQuestion({
      name: 'x',
      required: false,
      schema: { type: 'string', description: 'evil\u001b[2J text' },
    });
    expect(lines.join('\n')).not.toContain('\u001b');
  });
});

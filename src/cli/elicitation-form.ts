/**
 * A form elicitation's fields (`requestedSchema` of `elicitation/create`, MCP 2025-11-25) asked
 * one by one at the terminal, each answer checked against its field's schema: text (`format`
 * email, uri, date, date-time; `minLength`, `maxLength`), numbers and integers (`minimum`,
 * `maximum`), booleans, and choices (`enum`, `enum` with `enumNames`, `oneOf` of `const`/`title`;
 * several of them with `items.enum` or `items.anyOf`, `minItems`, `maxItems`). A `pattern` is not
 * read: MCP's string schema has none (and a server's expression run on the answer could hang the
 * CLI). An empty answer takes the field's default when it fits the field's schema (a default
 * that does not is neither offered nor sent), leaves out an optional field, and is refused for a
 * required one; an invalid answer is explained and the question asked again.
 *
 * @module
 */
import type { ElicitRequestFormParams } from '@modelcontextprotocol/client';
import type { Ask } from './terminal-questions.js';
import { oneLine, shown } from './terminal-questions.js';

/** A field's schema, as far as it is read here (a server's; every key may be missing). */
export interface FieldSchema {
  readonly type?: unknown;
  readonly title?: unknown;
  readonly description?: unknown;
  readonly default?: unknown;
  readonly format?: unknown;
  readonly minLength?: unknown;
  readonly maxLength?: unknown;
  readonly minimum?: unknown;
  readonly maximum?: unknown;
  readonly enum?: unknown;
  readonly enumNames?: unknown;
  readonly oneOf?: unknown;
  readonly anyOf?: unknown;
  readonly items?: FieldSchema;
  readonly minItems?: unknown;
  readonly maxItems?: unknown;
}

/** One field of the form. */
export interface Field {
  /** Its key in the answer. */
  readonly name: string;
  readonly schema: FieldSchema;
  readonly required: boolean;
}

/** One choice of a choice field: the value sent, and what the person sees. */
export interface Choice {
  readonly value: string;
  readonly label: string;
}

/** What an answer gives: a value, nothing (the field left out), or why it is refused. */
export type Answer =
  | { readonly value: unknown }
  | { readonly omitted: true }
  | { readonly error: string };

/** The fields of `requested`, in the order the server listed them. */
export function formFields(requested: ElicitRequestFormParams['requestedSchema']): Field[] {
  const required = new Set(requested.required ?? []);
  return Object.entries(requested.properties).map(([name, schema]) => ({
    name,
    schema: schema as FieldSchema,
    required: required.has(name),
  }));
}

const isString = (value: unknown): value is string => typeof value === 'string';
const numberOf = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;

/** `const`/`title` pairs of a `oneOf` or `anyOf` list. */
function titled(list: unknown): Choice[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const choices = list.flatMap((item: { const?: unknown; title?: unknown }) =>
    isString(item?.const)
      ? [{ value: item.const, label: isString(item.title) ? item.title : item.const }]
      : [],
  );
  return choices.length > 0 ? choices : undefined;
}

/** The choices of an `enum` (labelled by `enumNames`, when given) or a `oneOf`/`anyOf`. */
function choicesIn(schema: FieldSchema | undefined): Choice[] | undefined {
  if (!schema) return undefined;
  if (Array.isArray(schema.enum)) {
    const names = Array.isArray(schema.enumNames) ? schema.enumNames : [];
    return schema.enum
      .filter(isString)
      .map((value, i) => ({ value, label: isString(names[i]) ? names[i] : value }));
  }
  return titled(schema.oneOf) ?? titled(schema.anyOf);
}

/** A choice field's choices and whether several may be chosen; `undefined` for another field. */
export function choicesOf(
  schema: FieldSchema,
): { readonly multiple: boolean; readonly choices: readonly Choice[] } | undefined {
  if (schema.type === 'array') {
    const choices = choicesIn(schema.items);
    return choices ? { multiple: true, choices } : undefined;
  }
  const choices = choicesIn(schema);
  return choices ? { multiple: false, choices } : undefined;
}

/** What the field takes, for the question's hint. */
function kindOf(schema: FieldSchema): string {
  const choice = choicesOf(schema);
  if (choice?.multiple) {
    const count = range(numberOf(schema.minItems), numberOf(schema.maxItems), 'choices');
    return `numbers or values separated by commas${count ? `, ${count}` : ''}`;
  }
  if (choice) return 'a number or a value';
  if (schema.type === 'boolean') return 'y/n';
  if (schema.type === 'number' || schema.type === 'integer') {
    const kind = schema.type === 'integer' ? 'a whole number' : 'a number';
    const between = range(numberOf(schema.minimum), numberOf(schema.maximum), '');
    return between ? `${kind}, ${between}` : kind;
  }
  const format = FORMATS[String(schema.format)]?.name ?? 'text';
  const length = range(numberOf(schema.minLength), numberOf(schema.maxLength), 'characters');
  return [format, length].filter(Boolean).join(', ');
}

function range(min: number | undefined, max: number | undefined, unit: string): string {
  const of = unit ? ` ${unit}` : '';
  if (min !== undefined && max !== undefined) return `${min} to ${max}${of}`;
  if (min !== undefined) return `at least ${min}${of}`;
  if (max !== undefined) return `at most ${max}${of}`;
  return '';
}

/** A value as the person sees it: a choice by its label, a boolean as yes/no. */
function display(schema: FieldSchema, value: unknown): string {
  const choices = choicesOf(schema)?.choices ?? [];
  const label = (item: unknown) => choices.find((choice) => choice.value === item)?.label ?? item;
  if (Array.isArray(value)) return value.map(label).join(', ');
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(label(value));
}

/**
 * The lines that ask for `field` (its name, title and description; its choices, numbered), the
 * last one the question itself with its hint: what it takes, and what an empty answer does
 * (`given`: the value it takes, else the field's default; one that does not fit is not offered).
 */
export function fieldQuestion(field: Field, given: unknown = field.schema.default): string[] {
  const { name, schema } = field;
  const fallback = fitting(field, given);
  const title = isString(schema.title) && schema.title !== name ? ` (${schema.title})` : '';
  const about = isString(schema.description) ? `: ${schema.description}` : '';
  const lines = shown(`${name}${title}${about}`);
  const choices = choicesOf(schema)?.choices ?? [];
  choices.forEach((choice, i) => {
    lines.push(...shown(`  ${i + 1}) ${choice.label}`));
  });
  const empty =
    fallback !== undefined
      ? `Enter: ${oneLine(display(schema, fallback))}`
      : field.required
        ? 'required'
        : 'Enter: leave out';
  lines.push(`  [${oneLine(kindOf(schema))}; ${empty}] > `);
  return lines;
}

/** A `format` of text fields: its name for people, and its check. */
const FORMATS: Readonly<Record<string, { name: string; valid: (text: string) => boolean }>> = {
  email: { name: 'an email address', valid: (text) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text) },
  uri: { name: 'a URI', valid: (text) => /^[a-z][a-z0-9+.-]*:\S+$/i.test(text) },
  date: { name: 'a date (YYYY-MM-DD)', valid: (text) => isDate(text) },
  'date-time': {
    name: 'a date and time (YYYY-MM-DDThh:mm:ssZ)',
    valid: (text) =>
      /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/.test(text) &&
      isDate(text.slice(0, 10)) &&
      !Number.isNaN(Date.parse(text)),
  },
};

function isDate(text: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return false;
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** Why `value` does not fit `field`'s schema; `undefined` when it does. */
function misfit(field: Field, value: unknown): string | undefined {
  const { schema } = field;
  const choice = choicesOf(schema);
  if (choice) {
    const values = choice.choices.map((each) => each.value);
    if (!choice.multiple) return values.includes(value as string) ? undefined : 'not a choice';
    if (!Array.isArray(value) || !value.every((each) => values.includes(each))) {
      return 'not choices';
    }
    return countError(schema, new Set(value).size);
  }
  if (schema.type === 'boolean') return typeof value === 'boolean' ? undefined : 'not y/n';
  if (schema.type === 'number' || schema.type === 'integer') {
    return typeof value === 'number' ? errorOf(checkNumber(schema, value)) : 'not a number';
  }
  return isString(value) ? errorOf(textAnswer(schema, value)) : 'not text';
}

const errorOf = (answer: Answer): string | undefined =>
  'error' in answer ? answer.error : undefined;

/** `value` when it fits `field`'s schema (a default, a previous answer), else `undefined`. */
function fitting(field: Field, value: unknown): unknown {
  return value !== undefined && misfit(field, value) === undefined ? value : undefined;
}

/**
 * `text` (one line typed for `field`) as the field's value, checked against its schema; an empty
 * line takes `given` (default the field's default) when it fits the schema, leaves out an
 * optional field, and is an error for a required one.
 */
export function parseAnswer(field: Field, text: string, given = field.schema.default): Answer {
  const typed = text.trim();
  const fallback = fitting(field, given);
  if (typed === '') {
    if (fallback !== undefined) return { value: fallback };
    return field.required ? { error: 'an answer is required' } : { omitted: true };
  }
  const { schema } = field;
  const choice = choicesOf(schema);
  if (choice)
    return choice.multiple
      ? chooseSeveral(schema, choice.choices, typed)
      : chooseOne(choice.choices, typed);
  if (schema.type === 'boolean') return yesOrNo(typed);
  if (schema.type === 'number' || schema.type === 'integer') return numberAnswer(schema, typed);
  return textAnswer(schema, typed);
}

function yesOrNo(typed: string): Answer {
  if (/^(y|yes|true)$/i.test(typed)) return { value: true };
  if (/^(n|no|false)$/i.test(typed)) return { value: false };
  return { error: 'answer y or n' };
}

function numberAnswer(schema: FieldSchema, typed: string): Answer {
  const value = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(typed) ? Number(typed) : Number.NaN;
  if (!Number.isFinite(value)) return { error: `"${typed}" is not a number` };
  return checkNumber(schema, value);
}

function checkNumber(schema: FieldSchema, value: number): Answer {
  if (!Number.isFinite(value)) return { error: `${value} is not a number` };
  if (schema.type === 'integer' && !Number.isInteger(value)) {
    return { error: `${value} is not a whole number` };
  }
  const min = numberOf(schema.minimum);
  const max = numberOf(schema.maximum);
  if (min !== undefined && value < min) return { error: `${value} is less than ${min}` };
  if (max !== undefined && value > max) return { error: `${value} is more than ${max}` };
  return { value };
}

function textAnswer(schema: FieldSchema, typed: string): Answer {
  const length = [...typed].length;
  const min = numberOf(schema.minLength);
  const max = numberOf(schema.maxLength);
  if (min !== undefined && length < min) return { error: `at least ${min} characters, please` };
  if (max !== undefined && length > max) return { error: `at most ${max} characters, please` };
  const format = FORMATS[String(schema.format)];
  if (format && !format.valid(typed)) return { error: `that is not ${format.name}` };
  return { value: typed };
}

/** The choice `typed` names: its number, its value or its label (case aside). */
function pick(choices: readonly Choice[], typed: string): Choice | undefined {
  const number = /^\d+$/.test(typed) ? Number(typed) : 0;
  if (number >= 1 && number <= choices.length) return choices[number - 1];
  const lower = typed.toLowerCase();
  return (
    choices.find((choice) => choice.value === typed) ??
    choices.find((choice) => choice.value.toLowerCase() === lower) ??
    choices.find((choice) => choice.label.toLowerCase() === lower)
  );
}

function chooseOne(choices: readonly Choice[], typed: string): Answer {
  const chosen = pick(choices, typed);
  return chosen
    ? { value: chosen.value }
    : { error: `"${typed}" is none of the choices (1 to ${choices.length})` };
}

function chooseSeveral(schema: FieldSchema, choices: readonly Choice[], typed: string): Answer {
  const values: string[] = [];
  for (const part of typed
    .split(',')
    .map((each) => each.trim())
    .filter(Boolean)) {
    const chosen = pick(choices, part);
    if (!chosen) return { error: `"${part}" is none of the choices (1 to ${choices.length})` };
    if (!values.includes(chosen.value)) values.push(chosen.value);
  }
  const error = countError(schema, values.length);
  return error === undefined ? { value: values } : { error };
}

/** Why `count` choices are too few or too many for `schema`; `undefined` when they fit. */
function countError(schema: FieldSchema, count: number): string | undefined {
  const min = numberOf(schema.minItems);
  const max = numberOf(schema.maxItems);
  if (min !== undefined && count < min) return `choose at least ${min}`;
  if (max !== undefined && count > max) return `choose at most ${max}`;
  return undefined;
}

/**
 * Ask each field of `fields` until its answer is valid; `previous` answers (a form being
 * answered again) are the empty answer's values in place of the defaults. The answers, or
 * `undefined` once the dialogue is cancelled.
 */
export async function askFields(
  ask: Ask,
  fields: readonly Field[],
  previous: Readonly<Record<string, unknown>> = {},
): Promise<Record<string, unknown> | undefined> {
  const answers: Record<string, unknown> = {};
  for (const field of fields) {
    const fallback = field.name in previous ? previous[field.name] : field.schema.default;
    const lines = fieldQuestion(field, fallback);
    for (const line of lines.slice(0, -1)) ask.tell(line);
    for (;;) {
      const typed = await ask.ask(lines.at(-1) ?? '> ');
      if (typed === undefined) return undefined;
      const answer = parseAnswer(field, typed, fallback);
      if ('error' in answer) {
        ask.tell(`  ✗ ${answer.error}; try again.`);
        continue;
      }
      if ('value' in answer) answers[field.name] = answer.value;
      break;
    }
  }
  return answers;
}

/** The answers as the person reviews them: a `name: value` line each. */
export function answerLines(
  fields: readonly Field[],
  answers: Readonly<Record<string, unknown>>,
): string[] {
  return fields.map((field) =>
    field.name in answers
      ? `  ${oneLine(field.name)}: ${oneLine(display(field.schema, answers[field.name]))}`
      : `  ${oneLine(field.name)}: (left out)`,
  );
}

/**
 * A downstream server's `elicitation/create` answered by the person at the terminal. A form
 * (`mode: form`): the server's name and message, then "Answer? [y]es / [n]o (decline)"; yes asks
 * each field (`./elicitation-form.ts`), shows the answers and asks "Send?" (yes sends them, no
 * declines, `e` answers again). A URL (`mode: url`): the server, its message and the address,
 * which the person opens themselves (it is never opened for them); Enter accepts, `n` declines.
 * The end of input (Ctrl-D) or Ctrl-C cancels, at any question. Ctrl-C also reaches the stdio
 * servers the command started (they share its terminal), which then stop: Ctrl-D is the way to
 * cancel one of their forms.
 *
 * @module
 */
import type { ElicitRequest, ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import type { PeerRequestOptions } from '../servers/peer.js';
import { answerLines, askFields, formFields } from './elicitation-form.js';
import { type Ask, shown, type TerminalQuestions } from './terminal-questions.js';

const CANCEL: ElicitResult = { action: 'cancel' };
const DECLINE: ElicitResult = { action: 'decline' };

/** The answer of `typed` to a yes/no question: yes, no, or another letter it allows. */
function letter(typed: string, allowed: string, empty: string): string | undefined {
  const first = typed.trim().toLowerCase()[0] ?? empty;
  return allowed.includes(first) ? first : undefined;
}

/** Ask until the answer is one of `allowed`'s letters (an empty line is `empty`). */
async function choose(
  ask: Ask,
  question: string,
  allowed: string,
  empty: string,
): Promise<string | undefined> {
  for (;;) {
    const typed = await ask.ask(question);
    if (typed === undefined) return undefined;
    const chosen = letter(typed, allowed, empty);
    if (chosen !== undefined) return chosen;
    ask.tell(`  ✗ answer ${[...allowed].join(', ')}; try again.`);
  }
}

/** Server `server`'s request, as a heading and its message. */
function heading(ask: Ask, server: string, what: string, message: string): void {
  ask.tell('');
  ask.tell(`── ${shown(server).join(' ')} ${what} (Ctrl-D cancels) ──`);
  for (const line of shown(message)) ask.tell(line);
}

async function answerForm(
  ask: Ask,
  server: string,
  params: Extract<ElicitRequest['params'], { requestedSchema: unknown }>,
): Promise<ElicitResult> {
  heading(ask, `"${server}"`, 'asks you to fill in a form', params.message);
  const start = await choose(ask, 'Answer? [y]es / [n]o (decline) > ', 'yn', 'y');
  if (start === undefined) return CANCEL;
  if (start === 'n') return DECLINE;
  const fields = formFields(params.requestedSchema);
  let answers: Record<string, unknown> = {};
  for (;;) {
    const given = await askFields(ask, fields, answers);
    if (given === undefined) return CANCEL;
    answers = given;
    ask.tell(`Your answers for "${shown(server).join(' ')}":`);
    for (const line of answerLines(fields, answers)) ask.tell(line);
    const send = await choose(ask, 'Send? [y]es / [n]o (decline) / [e]dit > ', 'yne', 'y');
    if (send === undefined) return CANCEL;
    if (send === 'n') return DECLINE;
    if (send === 'y') return { action: 'accept', content: answers as ElicitResult['content'] };
  }
}

async function answerUrl(
  ask: Ask,
  server: string,
  params: Extract<ElicitRequest['params'], { mode: 'url' }>,
): Promise<ElicitResult> {
  heading(ask, `"${server}"`, 'asks you to open an address', params.message);
  let host = '';
  try {
    host = new URL(params.url).host;
  } catch {
    // Shown as it is.
  }
  ask.tell(`  ${shown(params.url).join('')}`);
  if (host) ask.tell(`  (on ${shown(host).join('')}; open it yourself if you trust it)`);
  const done = await choose(ask, 'Press Enter once done there, or n to decline > ', 'yn', 'y');
  if (done === undefined) return CANCEL;
  return done === 'n' ? DECLINE : { action: 'accept' };
}

/**
 * The answer of the person at the terminal (`questions`) to server `server`'s elicitation
 * `params`: accept with the form's answers (or, for a URL, that they went there), decline, or
 * cancel (Ctrl-C, the end of input, or the server's request withdrawn: `options.signal`).
 */
export function elicitAtTerminal(
  questions: TerminalQuestions,
  server: string,
  params: ElicitRequest['params'],
  options: PeerRequestOptions,
): Promise<ElicitResult> {
  return questions.dialogue(options.signal, (ask) =>
    params.mode === 'url' ? answerUrl(ask, server, params) : answerForm(ask, server, params),
  );
}

/** Tell the person that the URL elicitation `elicitationId` of server `server` completed. */
export function elicitationCompleted(
  questions: TerminalQuestions,
  server: string,
  elicitationId: string,
): void {
  questions.note(
    `"${shown(server).join(' ')}": the request you opened an address for is complete (${shown(elicitationId).join('')}).`,
  );
}

/**
 * A downstream server's `elicitation/create` answered by the person at the terminal. A form
 * (`mode: form`): the server's name and message, then "Answer? [y]es / [n]o (decline)"; yes asks
 * each field (`./elicitation-form.ts`), shows the answers and asks "Send?" (yes sends them, no
 * declines, `e` answers again). A URL (`mode: url`): the server, its message and the address,
 * which the person opens themselves (it is never opened for them); Enter accepts, `n` declines.
 * The end of input (Ctrl-D) or Ctrl-C cancels, at any question. Ctrl-C also reaches the stdio
 * servers the command started (they share its terminal), which then stop: Ctrl-D is the way to
 * cancel one of their forms. In `chat`, the end of input ends the chat: Ctrl-C cancels there (it
 * stops the turn, the question with it); the heading names the way of its mode
 * ({@link TerminalQuestions.cancelHint}).
 *
 * @module
 */
import type { ElicitRequest, ElicitResult } from '@modelcontextprotocol/client';
import type { PeerRequestOptions } from '../servers/peer.js';
import { answerLines, askFields, formFields } from './elicitation-form.js';
import { type Ask, oneLine, shown, type TerminalQuestions } from './terminal-questions.js';

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

/** What a dialogue shows and asks with: its {@link Ask}, and how the person cancels it. */
interface Dialogue {
  readonly ask: Ask;
  /** For the heading: `Ctrl-D cancels` (or `chat`'s way). */
  readonly cancelHint: string;
}

/** Server `server`'s request, as a heading and its message. */
function heading({ ask, cancelHint }: Dialogue, server: string, what: string, message: string) {
  ask.tell('');
  ask.tell(`── "${oneLine(server)}" ${what} (${cancelHint}) ──`);
  for (const line of shown(message)) ask.tell(line);
}

/**
 * A form elicitation of server `server` answered in `dialogue`: declined at the first question,
 * else each field asked, the answers reviewed, and sent, declined, or answered again; cancelled
 * whenever the dialogue is.
 */
async function answerForm(
  dialogue: Dialogue,
  server: string,
  params: Extract<ElicitRequest['params'], { requestedSchema: unknown }>,
): Promise<ElicitResult> {
  const { ask } = dialogue;
  heading(dialogue, server, 'asks you to fill in a form', params.message);
  const start = await choose(ask, 'Answer? [y]es / [n]o (decline) > ', 'yn', 'y');
  if (start === undefined) return CANCEL;
  if (start === 'n') return DECLINE;
  const fields = formFields(params.requestedSchema);
  let answers: Record<string, unknown> = {};
  for (;;) {
    const given = await askFields(ask, fields, answers);
    if (given === undefined) return CANCEL;
    answers = given;
    ask.tell(`Your answers for "${oneLine(server)}":`);
    for (const line of answerLines(fields, answers)) ask.tell(line);
    const send = await choose(ask, 'Send? [y]es / [n]o (decline) / [e]dit > ', 'yne', 'y');
    if (send === undefined) return CANCEL;
    if (send === 'n') return DECLINE;
    if (send === 'y') return { action: 'accept', content: answers as ElicitResult['content'] };
  }
}

/**
 * A URL elicitation of server `server` answered in `dialogue`: the address and its host shown
 * (never opened here), then accepted once the person is done there, or declined; cancelled
 * whenever the dialogue is.
 */
async function answerUrl(
  dialogue: Dialogue,
  server: string,
  params: Extract<ElicitRequest['params'], { mode: 'url' }>,
): Promise<ElicitResult> {
  const { ask } = dialogue;
  heading(dialogue, server, 'asks you to open an address', params.message);
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
  return questions.dialogue(options.signal, (ask) => {
    const dialogue = { ask, cancelHint: questions.cancelHint };
    return params.mode === 'url'
      ? answerUrl(dialogue, server, params)
      : answerForm(dialogue, server, params);
  });
}

/** Tell the person that the URL elicitation `elicitationId` of server `server` completed. */
export function elicitationCompleted(
  questions: TerminalQuestions,
  server: string,
  elicitationId: string,
): void {
  questions.note(
    `"${oneLine(server)}": the request you opened an address for is complete (${oneLine(elicitationId)}).`,
  );
}

/**
 * `mcp-agent chat --once PROMPT [--agent NAME] [--provider P] [--model M]`: one answer of an
 * {@link Agent} (issue 17), streamed on stdout, a line per tool call on stderr.
 *
 * @module
 */
import { Agent, type AgentSpec } from '../../agent/agent.js';
import { agentSpecsOf } from '../../agent/definitions.js';
import type { AugmentedLlm } from '../../agent/llm.js';
import { modelError } from '../../agent/provider-error.js';
import { type AgentAuth, createAgentAuth } from '../../client/agent-auth.js';
import { handOverConsent, type LoginConsent } from '../../client/hand-over.js';
import type { Settings } from '../../config/schema/settings.js';
import { AuthorizationRequiredError, isMcpAgentError, McpAgentError } from '../../errors.js';
import { borrowingConsent, ChatInput, untilAborted } from '../chat-input.js';
import { type CliConsentOptions, cliConsent } from '../consent.js';
import { handOverText } from '../hand-over.js';
import type { CliIo, GlobalOptions, Output } from '../io.js';
import { cliLogger } from '../logger.js';
import { defaultProvider } from '../provider-choice.js';
import { terminalPeer } from '../terminal-peer.js';
import type { Interrupts, LineSource } from '../terminal-questions.js';
import { VERSION } from '../version.js';
import { loadForCli } from './config.js';

/** What `chat` was asked for. */
export interface ChatOptions extends CliConsentOptions {
  readonly prompt: string;
  readonly agent?: string | undefined;
  readonly provider?: string | undefined;
  readonly model?: string | undefined;
}

/** The agent `name` of `agents.definitions`, or (without a name) one over every server. */
function specOf(settings: Settings, name: string | undefined): AgentSpec {
  if (name === undefined) {
    return { name: 'chat', serverNames: Object.keys(settings.mcp.servers) };
  }
  const specs = agentSpecsOf(settings);
  const spec = specs.find((candidate) => candidate.name === name);
  if (spec) return spec;
  const known = specs.map((candidate) => candidate.name);
  throw new McpAgentError(
    'CONFIG_INVALID',
    `No agent "${name}" in agents.definitions${known.length > 0 ? ` (defined: ${known.join(', ')})` : ''}.`,
  );
}

/**
 * Whether a login can run here: a terminal on stdin (to paste an address), or `--device`.
 * Otherwise a needed login is handed over: its URL on stderr, exit 1, `auth complete` finishes it.
 */
function canAsk(io: CliIo, options: SessionOptions): boolean {
  return io.stdin?.isTTY === true || options.device === true;
}

/** What `chat` was asked for besides the prompt. */
export type SessionOptions = Omit<ChatOptions, 'prompt'>;

/** Where the servers' questions to the person are answered, when not stdin's lines and Ctrl-C. */
interface Questions {
  readonly lines?: LineSource;
  readonly interrupts?: Interrupts;
  /** How a question is cancelled, for its heading. */
  readonly cancelHint?: string;
}

/**
 * Build the agent and its model with `consent` for its logins and the terminal peer for the
 * servers' questions (`questions`: how they are answered), run `body`, close the connections.
 */
async function withLlm(
  io: CliIo,
  global: GlobalOptions,
  out: Output,
  options: SessionOptions,
  consent: LoginConsent,
  questions: Questions,
  body: (llm: AugmentedLlm, settings: Settings) => Promise<number>,
): Promise<number> {
  const { settings } = loadForCli(io, global);
  let auth: AgentAuth | undefined;
  const peer = terminalPeer({
    io,
    out,
    settings,
    provider: options.provider,
    model: options.model,
    modelOptions: () => ({ fetch: auth?.fetch, credentials: auth?.credentials, env: io.env }),
    ...questions,
  });
  auth = createAgentAuth({
    peer,
    settings,
    env: io.env,
    cwd: io.cwd,
    homeDir: io.homeDir,
    logger: cliLogger(out, global.verbose),
    consent,
    clientName: 'mcp-agent-ts',
    clientInfo: { name: 'mcp-agent-ts', version: VERSION },
  });
  try {
    const agent = new Agent(specOf(settings, options.agent), { auth });
    const provider = options.provider ?? defaultProvider(settings);
    const llm = await agent.attachLlm(provider, {
      model: options.model,
      // Each tool call is announced as it starts.
      onToolCall: (tool) => out.note(`→ ${tool.tool.name} (${tool.server})`),
    });
    return await body(llm, settings);
  } finally {
    await auth.close();
  }
}

/** One turn: the answer streamed on stdout (ended by a newline); returns its text. */
async function answer(
  llm: AugmentedLlm,
  settings: Settings,
  out: Output,
  prompt: string,
  signal?: AbortSignal,
): Promise<string> {
  let text = '';
  try {
    for await (const part of llm.generateStream(prompt, signal ? { signal } : {})) {
      text += part;
      out.stream(part);
    }
  } catch (error) {
    if (text !== '' && !text.endsWith('\n')) out.stream('\n');
    throw modelError(llm.provider, error, settings);
  }
  if (text !== '' && !text.endsWith('\n')) out.stream('\n');
  return text;
}

/** `chat --once`: the answer on stdout as it streams, exit 0; an error is thrown (exit 1). */
export function chatOnce(
  io: CliIo,
  global: GlobalOptions,
  out: Output,
  options: ChatOptions,
): Promise<number> {
  const consent = canAsk(io, options) ? cliConsent(io, out, options) : handOverConsent();
  return withLlm(io, global, out, options, consent, {}, async (llm, settings) => {
    out.resultJson({ answer: await answer(llm, settings, out, options.prompt) });
    return 0;
  });
}

/**
 * `chat` without `--once`: a prompt per line of stdin, each answered with the conversation so
 * far; Ctrl-C stops the running turn (with a login it waits for), at the prompt it ends the
 * session, as the end of input does. Standard input has one reader ({@link ChatInput}): a login
 * of a turn borrows it to read a pasted address.
 */
export function chatSession(
  io: CliIo,
  global: GlobalOptions,
  out: Output,
  options: SessionOptions,
): Promise<number> {
  const stdin = io.stdin;
  if (stdin === undefined) {
    throw new McpAgentError('USAGE', 'chat needs input: pass --once PROMPT, or type prompts.');
  }
  const input = new ChatInput(stdin);
  let turn: AbortController | undefined;
  const consent = canAsk(io, options)
    ? borrowingConsent(
        cliConsent({ ...io, stdin: input.loan }, out, options),
        input,
        () => turn?.signal,
      )
    : handOverConsent();
  // A person at a terminal gets a prompt sign on stderr; piped input none.
  const atTerminal = stdin.isTTY === true;
  const ask = () => atTerminal && out.progressStream().write('> ');
  const interrupt = () => {
    if (turn) return turn.abort();
    if (atTerminal) out.note(''); // the line after the prompt sign
    input.close();
  };
  const stopListening = (io.onInterrupt ?? onSigint)(interrupt);
  // A server's question during a turn reads the next lines typed; stopping the turn cancels it.
  // Ctrl-D would end the session: Ctrl-C (the turn's stop) is the way to cancel a question.
  const questions: Questions = {
    cancelHint: 'Ctrl-C cancels, with the turn',
    lines: { readLine: (signal) => input.borrowLine(signal) },
    interrupts: (listener) => {
      const signal = turn?.signal;
      signal?.addEventListener('abort', listener, { once: true });
      return () => signal?.removeEventListener('abort', listener);
    },
  };
  return withLlm(io, global, out, options, consent, questions, async (llm, settings) => {
    let stopped: Promise<unknown> = Promise.resolve();
    for (ask(); ; ask()) {
      const line = await input.next();
      if (line === undefined) return 0;
      const prompt = line.trim();
      if (prompt === '') continue;
      turn = new AbortController();
      ({ unwound: stopped } = await turnOf(llm, settings, out, prompt, turn.signal, stopped));
      turn = undefined;
    }
  }).finally(() => {
    stopListening();
    input.close();
  });
}

/** Calls `listener` at each SIGINT (Ctrl-C) until the returned function is called. */
function onSigint(listener: () => void): () => void {
  process.on('SIGINT', listener);
  return () => process.off('SIGINT', listener);
}

/**
 * A turn of {@link chatSession}: an error of ours or the model's is printed, and the session goes
 * on; once `signal` aborts, the turn is over, even while it still waits (to connect, for a login).
 * It starts once the work of a turn stopped before it (`stopped`) has unwound (a cancelled login
 * its connection attempt, which a new one would otherwise join); it returns its own.
 */
async function turnOf(
  llm: AugmentedLlm,
  settings: Settings,
  out: Output,
  prompt: string,
  signal: AbortSignal,
  stopped: Promise<unknown>,
): Promise<{ unwound: Promise<unknown> }> {
  const work = stopped.then(() =>
    signal.aborted ? '' : answer(llm, settings, out, prompt, signal),
  );
  try {
    await untilAborted(work, signal);
  } catch (error) {
    if (signal.aborted) out.note('(stopped)');
    else if (isMcpAgentError(error)) {
      out.error(error.message);
      if (error instanceof AuthorizationRequiredError) out.note(handOverText(error));
    } else throw error;
  }
  return { unwound: work.catch(() => {}) };
}

/**
 * The CLI as the peer of its downstream connections: what it declares to servers and how it
 * answers their requests. Elicitation (form and URL modes) is declared only when a person can
 * answer: standard input and standard error are a terminal. Sampling is declared, unless the
 * command answers none (`sampling: false`), at a terminal when a model provider is configured (or
 * named with `--provider`), each request and its answer then approved there; without a terminal
 * only when `--provider` names one: a configured provider alone is no consent to let servers use
 * it unattended. At most 10 requests per command, each at most 4096 tokens (`./sampling.ts`).
 * Declaring nothing, the CLI leaves a server that asks with the protocol's refusal.
 *
 * @module
 */
import type { ModelOptions } from '../agent/models.js';
import type { Settings } from '../config/schema/settings.js';
import type { DownstreamPeer, PeerCapabilities } from '../servers/peer.js';
import { elicitAtTerminal, elicitationCompleted } from './elicitation.js';
import type { CliIo, Output } from './io.js';
import { configuredProvider } from './provider-choice.js';
import { TerminalSampling } from './sampling.js';
import { ModelSampler } from './sampling-model.js';
import {
  type Interrupts,
  type LineSource,
  stdinLines,
  TerminalQuestions,
} from './terminal-questions.js';

/** Options of {@link terminalPeer}. */
export interface TerminalPeerOptions {
  readonly io: CliIo;
  readonly out: Output;
  readonly settings: Settings;
  /**
   * `--provider`: the provider section that answers sampling requests; without it, at a terminal
   * only, the one `chat` would choose.
   */
  readonly provider?: string | undefined;
  /** `false`: the command answers no sampling request (declares none). */
  readonly sampling?: boolean | undefined;
  /** How the person cancels a question, for its heading (default `Ctrl-D cancels`). */
  readonly cancelHint?: string | undefined;
  /** `--model`: its model id (default the section's). */
  readonly model?: string | undefined;
  /** What the model is made with, read when a server first asks for a message. */
  readonly modelOptions: () => ModelOptions;
  /** Where answers are read; default standard input, a reader per line. */
  readonly lines?: LineSource | undefined;
  /** What cancels a question; default Ctrl-C (`io.onInterrupt`, else SIGINT). */
  readonly interrupts?: Interrupts | undefined;
}

/** Whether a person can be asked: standard input and standard error are a terminal. */
export function atTerminal(io: CliIo): boolean {
  return io.stdin?.isTTY === true && io.stderrIsTTY === true;
}

/** Calls `listener` at each SIGINT until the returned function is called. */
function onSigint(listener: () => void): () => void {
  process.on('SIGINT', listener);
  return () => process.off('SIGINT', listener);
}

/**
 * The peer of a CLI command's connections (see the module); `undefined` when it can answer
 * nothing (no terminal, no provider): its connections then declare no capability.
 */
export function terminalPeer(options: TerminalPeerOptions): DownstreamPeer | undefined {
  const { io, out, settings } = options;
  const stdin = io.stdin;
  const questions =
    atTerminal(io) && stdin
      ? new TerminalQuestions(
          out.progressStream(),
          options.lines ?? stdinLines(stdin),
          options.interrupts ?? io.onInterrupt ?? onSigint,
          options.cancelHint,
        )
      : undefined;
  const provider =
    options.sampling === false
      ? undefined
      : (options.provider ?? (questions ? configuredProvider(settings) : undefined));
  const capabilities: PeerCapabilities = {
    ...(questions ? { elicitation: { form: {}, url: {} } } : {}),
    ...(provider !== undefined ? { sampling: {} } : {}),
  };
  if (!questions && provider === undefined) return undefined;
  const sampling =
    provider === undefined
      ? undefined
      : new TerminalSampling(
          new ModelSampler({
            settings,
            provider,
            model: options.model,
            options: options.modelOptions,
          }),
          questions,
          (line) => out.note(line),
        );
  return {
    capabilities,
    ...(questions
      ? {
          elicit: (server, params, request) => elicitAtTerminal(questions, server, params, request),
          elicitationComplete: (server, id) => elicitationCompleted(questions, server, id),
        }
      : {}),
    ...(sampling
      ? { sample: (server, params, request) => sampling.answer(server, params, request) }
      : {}),
  };
}

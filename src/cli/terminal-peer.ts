/**
 * The CLI as the peer of its downstream connections: what it declares to servers and how it
 * answers their requests. Elicitation (form and URL modes) is declared only when a person can
 * answer: standard input and standard error are a terminal. Sampling is declared only when a
 * model provider is configured (or named with `--provider`); the agent's model then answers,
 * each request approved at the terminal when there is one. Declaring nothing, the CLI leaves a
 * server that asks with the protocol's refusal.
 *
 * @module
 */
import type { ModelOptions } from '../agent/models.js';
import type { Settings } from '../config/schema/settings.js';
import type { DownstreamPeer, PeerCapabilities } from '../servers/peer.js';
import { elicitAtTerminal, elicitationCompleted } from './elicitation.js';
import type { CliIo, Output } from './io.js';
import { configuredProvider } from './provider-choice.js';
import { ModelSampler, sampleAtTerminal } from './sampling.js';
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
  /** `--provider`: the provider section that answers sampling requests (default as `chat`'s). */
  readonly provider?: string | undefined;
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
        )
      : undefined;
  const provider = options.provider ?? configuredProvider(settings);
  const capabilities: PeerCapabilities = {
    ...(questions ? { elicitation: { form: {}, url: {} } } : {}),
    ...(provider !== undefined ? { sampling: {} } : {}),
  };
  if (!questions && provider === undefined) return undefined;
  const sampler =
    provider === undefined
      ? undefined
      : new ModelSampler({
          settings,
          provider,
          model: options.model,
          options: options.modelOptions,
        });
  return {
    capabilities,
    ...(questions
      ? {
          elicit: (server, params, request) => elicitAtTerminal(questions, server, params, request),
          elicitationComplete: (server, id) => elicitationCompleted(questions, server, id),
        }
      : {}),
    ...(sampler
      ? {
          sample: (server, params, request) =>
            sampleAtTerminal(questions, sampler, server, params, {
              ...request,
              note: (line) => out.note(line),
            }),
        }
      : {}),
  };
}

/**
 * The command table: names, options, help texts and handlers.
 *
 * A command's module is imported when the command runs, not with the table: `--version`,
 * `--help` and a usage error load none, and each command loads only what it uses (`config
 * check` the configuration layer, `serve` the MCP server, `tools list` the MCP client).
 *
 * @module
 */

import type { CliIo, GlobalOptions, Output } from './io.js';
import { UsageError } from './usage.js';

const authCommands = () => import('./commands/auth.js');
const authAdminCommands = () => import('./commands/auth-admin.js');
const chatCommand = () => import('./commands/chat.js');
const configCommands = () => import('./commands/config.js');
const contentCommands = () => import('./commands/content.js');
const doctorCommand = () => import('./commands/doctor.js');
const initCommand = () => import('./commands/init.js');
const serveCommands = () => import('./commands/serve.js');
const serversCommands = () => import('./commands/servers.js');

/** A command-specific option. */
export interface OptionSpec {
  readonly type: 'boolean' | 'string';
  readonly short?: string;
  readonly value?: string;
  readonly help: string;
}

/** What a command handler receives. */
export interface CommandContext {
  readonly io: CliIo;
  readonly global: GlobalOptions;
  readonly out: Output;
  readonly args: readonly string[];
  readonly options: Readonly<Record<string, string | boolean | undefined>>;
}

/** One command of the CLI. */
export interface CommandSpec {
  /** The words that name it, e.g. `['config', 'check']`. */
  readonly path: readonly string[];
  readonly summary: string;
  readonly usage: string;
  readonly description: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Most positional arguments accepted. */
  readonly maxArgs: number;
  run(context: CommandContext): number | Promise<number>;
}

/** `--no-browser` and `--device`: how a login a command starts reaches the user. */
const LOGIN_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'no-browser': {
    type: 'boolean',
    help: 'do not open a browser; print the URL (a redirect URL can then be pasted)',
  },
  device: {
    type: 'boolean',
    help: 'use the device authorization grant (enter a code on another device)',
  },
};

function loginFlags(options: CommandContext['options']): { noBrowser: boolean; device: boolean } {
  return { noBrowser: options['no-browser'] === true, device: options.device === true };
}

/** `--provider` and `--model`: the model of `chat`, and the one that answers servers' sampling. */
const MODEL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  provider: {
    type: 'string',
    value: 'P',
    help: 'the provider section (openai, anthropic, google, azure, bedrock, ollama, lm_studio)',
  },
  model: {
    type: 'string',
    value: 'M',
    help: "the model id (default the section's default_model)",
  },
};

/** What answers the servers' sampling requests: `--provider`, `--model`. */
function answerOptions(options: CommandContext['options']): {
  answer: { provider: string | undefined; model: string | undefined };
} {
  return {
    answer: { provider: stringOption(options.provider), model: stringOption(options.model) },
  };
}

/** `--host`, `--port` and `--app` of `serve` and `dev`. */
const SERVE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  host: { type: 'string', value: 'HOST', help: 'address to listen on (default 127.0.0.1)' },
  port: {
    type: 'string',
    value: 'PORT',
    help: 'port to listen on (default 8000; 0: any free port)',
  },
  app: {
    type: 'string',
    value: 'PATH',
    help: 'the app module (TypeScript or JavaScript) defining tools and workflows (default: app in the config)',
  },
  front: {
    type: 'string',
    value: 'NAME',
    help: 'serve only the configured server NAME, its tools under their own names (default: front in the config)',
  },
};

function portOption(value: string | boolean | undefined, name: string): number | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) {
    throw new UsageError(
      `--${name} must be a port number (0-65535), not "${value}".`,
      'mcp-agent serve --help',
    );
  }
  return port;
}

function stringOption(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Every command. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    path: ['config', 'check'],
    summary: 'validate the configuration and report every problem',
    usage: 'mcp-agent [--config PATH] [--json] config check',
    description:
      'Finds and loads the configuration (config file, secrets file, .env, environment, MCP_APP_SETTINGS_PRELOAD),\nvalidates it, and prints a summary and any warnings. Every error names the key and the file:line:column\nit came from. Exit code 0 when valid, 2 when not.',
    options: {},
    maxArgs: 0,
    run: async ({ io, global, out }) => (await configCommands()).configCheck(io, global, out),
  },
  {
    path: ['config', 'show'],
    summary: 'print the effective configuration, secrets redacted',
    usage: 'mcp-agent [--config PATH] [--json] [--verbose] config show',
    description:
      'Prints the merged configuration with defaults applied. Secret values (client secrets, tokens, API keys,\nheader and env values, and everything from the secrets file) are shown as [redacted].\nWith --verbose, each value is annotated with where it came from; --json always includes the sources.',
    options: {},
    maxArgs: 0,
    run: async ({ io, global, out }) => (await configCommands()).configShow(io, global, out),
  },
  {
    path: ['servers', 'list'],
    summary: 'list the configured downstream servers and how each is authenticated',
    usage: 'mcp-agent [--config PATH] [--json] servers list',
    description:
      'Lists mcp.servers: name, transport, authentication mode (none, headers, env or oauth) and\nendpoint (the command, or the URL without its query). Credential values are never shown.',
    options: {},
    maxArgs: 0,
    run: async ({ io, global, out }) => (await serversCommands()).serversList(io, global, out),
  },
  {
    path: ['tools', 'list'],
    summary: 'list the tools of one server, or of all servers, as SERVER_TOOL',
    usage: 'mcp-agent [--config PATH] [--json] tools list [SERVER] [--provider P] [--model M]',
    description:
      'Connects to the server (or every configured server) and lists its tools under the names they are\nserved and called by: SERVER_TOOL, as mcp-agent names them, honouring allowed_tools. A name that\nwould break the tool-name rule (characters other than A-Z a-z 0-9 _ -, over 64 characters, or one\nthat could be read as another server\'s) ends in "_" and 10 hex digits instead. --json also gives\neach tool\'s server and its own name there. It declares to servers what `tools call` with the same\n--provider would, so it lists the tools that call can use (see docs/cli.md on sampling).',
    options: { ...LOGIN_OPTIONS, ...MODEL_OPTIONS },
    maxArgs: 1,
    run: async ({ io, global, out, args, options }) =>
      (await serversCommands()).toolsList(io, global, out, args[0], {
        ...loginFlags(options),
        ...answerOptions(options),
      }),
  },
  {
    path: ['tools', 'call'],
    summary: 'call one tool and print its result',
    usage:
      'mcp-agent [--config PATH] [--json] tools call NAME [\'{"arg": "value"}\'] [--provider P] [--model M]\n       mcp-agent [--config PATH] [--json] tools call SERVER TOOL [\'{"arg": "value"}\'] [--provider P] [--model M]',
    description:
      "Calls the tool NAME (as `tools list` prints it), or TOOL (its own name) on SERVER, with the JSON\nobject given (default {}), checked against the tool's input schema first. Text content is printed\nas text, other content as JSON; --json prints the raw result. Exit code 1 when the tool reports an\nerror. When stdin and stderr are a terminal, a form the server asks for (elicitation) is answered\nthere, field by field, and the server's sampling requests by a model (--provider, else as chat\nchooses) once approved there. Without a terminal, sampling is answered only with --provider\n(at most 10 requests, 4096 tokens each).",
    options: { ...LOGIN_OPTIONS, ...MODEL_OPTIONS },
    maxArgs: 3,
    run: async ({ io, global, out, args, options }) => {
      const [first, second, third] = args;
      if (first === undefined) {
        throw new UsageError(
          '"tools call" needs a tool: its NAME as "tools list" prints it, or a SERVER and a TOOL.',
          'mcp-agent tools call --help',
        );
      }
      // NAME [JSON] or SERVER TOOL [JSON]: a second word that is a JSON object is the arguments.
      const byName =
        second === undefined || (third === undefined && second.trimStart().startsWith('{'));
      const { toolsCall } = await serversCommands();
      const flags = { ...loginFlags(options), ...answerOptions(options) };
      return byName
        ? toolsCall(io, global, out, { name: first }, second, flags)
        : toolsCall(io, global, out, { server: first, tool: second }, third, flags);
    },
  },
  {
    path: ['resources', 'list'],
    summary: 'list the resources and resource templates of one server, or of all servers',
    usage: 'mcp-agent [--config PATH] [--json] resources list [SERVER]',
    description:
      "Connects to the server (or every configured server) and lists its resources and resource templates\nby URI, with the name serve gives them (SERVER_NAME, as mcp-agent names them). --json also gives each\none's server, whether it is a template, its description and MIME type.",
    options: LOGIN_OPTIONS,
    maxArgs: 1,
    run: async ({ io, global, out, args, options }) =>
      (await contentCommands()).resourcesList(io, global, out, args[0], loginFlags(options)),
  },
  {
    path: ['resources', 'read'],
    summary: 'read one resource and print its contents',
    usage: 'mcp-agent [--config PATH] [--json] resources read [SERVER] URI',
    description:
      'Reads URI from SERVER, or from the one server that lists it (else the one with a template matching\nit; two servers that could serve it: name one). Text contents are printed as text, others as JSON;\n--json prints the raw result.',
    options: LOGIN_OPTIONS,
    maxArgs: 2,
    run: async ({ io, global, out, args, options }) => {
      const [first, second] = args;
      if (first === undefined) {
        throw new UsageError('"resources read" needs a URI.', 'mcp-agent resources read --help');
      }
      const target = second === undefined ? { uri: first } : { server: first, uri: second };
      return (await contentCommands()).resourcesRead(io, global, out, target, {
        ...loginFlags(options),
        answer: { sampling: false },
      });
    },
  },
  {
    path: ['prompts', 'list'],
    summary: 'list the prompts of one server, or of all servers, as SERVER_PROMPT',
    usage: 'mcp-agent [--config PATH] [--json] prompts list [SERVER]',
    description:
      "Connects to the server (or every configured server) and lists its prompts under the names serve\ngives them (SERVER_PROMPT, named as tools are), with their arguments ([optional]). --json also gives\neach prompt's server and its own name there.",
    options: LOGIN_OPTIONS,
    maxArgs: 1,
    run: async ({ io, global, out, args, options }) =>
      (await contentCommands()).promptsList(io, global, out, args[0], loginFlags(options)),
  },
  {
    path: ['prompts', 'get'],
    summary: 'get one prompt and print its messages',
    usage: 'mcp-agent [--config PATH] [--json] prompts get NAME [\'{"arg": "value"}\']',
    description:
      'Gets the prompt NAME (as `prompts list` prints it) with the arguments given (a JSON object of\nstrings, default {}) and prints its messages, one "role: text" line each (other content as JSON);\n--json prints the raw result.',
    options: LOGIN_OPTIONS,
    maxArgs: 2,
    run: async ({ io, global, out, args, options }) => {
      const [name, json] = args;
      if (name === undefined) {
        throw new UsageError('"prompts get" needs a prompt NAME.', 'mcp-agent prompts get --help');
      }
      return (await contentCommands()).promptsGet(io, global, out, name, json, {
        ...loginFlags(options),
        answer: { sampling: false },
      });
    },
  },
  {
    path: ['chat'],
    summary: "ask an agent (a model with the servers' tools) and print its answer",
    usage:
      'mcp-agent [--config PATH] [--json] chat --once PROMPT [--agent NAME] [--provider P] [--model M]\n       mcp-agent [--config PATH] chat [--agent NAME] [--provider P] [--model M]\n       (both with [--no-browser] [--device] for the logins the servers need)',
    description:
      'Sends PROMPT to the model of a provider section (default: the first configured one with an api_key)\nwith the tools of an agent: --agent NAME from agents.definitions, else every configured server.\nThe answer streams to stdout; each tool call prints a line (tool and server) on stderr. Logins the\nservers need happen as in `tools call`. Exit code 1 on failure (a missing key, a model error, a login\nneeded while stdin is not a terminal and --device is not given: its URL is printed on stderr and\n`auth complete ADDRESS` finishes it). Without --once: a session, a prompt per line of stdin answered\nwith the conversation so far (`> ` on stderr when stdin is a terminal). A login at a terminal completes\nthrough the browser, or by typing the address the browser ended on at the prompt (that line goes to\nthe login, never to the model). Ctrl-C stops the running answer and a login it waits for; at the\nprompt it ends the session (exit 0), as the end of input does. An error of one answer is printed\nand the session goes on.',
    options: {
      once: { type: 'string', value: 'PROMPT', help: 'answer PROMPT once and exit' },
      agent: { type: 'string', value: 'NAME', help: 'the agent of agents.definitions to use' },
      ...MODEL_OPTIONS,
      ...LOGIN_OPTIONS,
    },
    maxArgs: 0,
    run: async ({ io, global, out, options }) => {
      const prompt = stringOption(options.once);
      const chosen = {
        agent: stringOption(options.agent),
        provider: stringOption(options.provider),
        model: stringOption(options.model),
        ...loginFlags(options),
      };
      const chat = await chatCommand();
      if (prompt !== undefined) return chat.chatOnce(io, global, out, { prompt, ...chosen });
      if (global.json) {
        throw new UsageError('--json needs --once PROMPT.', 'mcp-agent chat --help');
      }
      return chat.chatSession(io, global, out, chosen);
    },
  },
  {
    path: ['auth', 'login'],
    summary: 'log in to a server that uses OAuth and keep its token',
    usage:
      'mcp-agent [--config PATH] [--json] auth login SERVER [--no-browser] [--device] [--no-wait]',
    description:
      'Discovers the authorization server, registers a client if needed, and runs the authorization code\nflow with PKCE: the URL is printed on stderr and opened in a browser (not under CI, over SSH, without a\ndisplay or with --no-browser); the callback arrives on a loopback port, or paste the final redirect URL.\nWith --device, the device authorization grant is used instead. The token goes to oauth.token_store.\nWith --no-wait, the URL is printed and the command returns at once; the login is kept pending in the\ntoken store (file or redis) for oauth.flow_timeout_seconds, and `auth complete ADDRESS` finishes it.',
    options: {
      ...LOGIN_OPTIONS,
      'no-wait': {
        type: 'boolean',
        help: 'print the authorization URL and return; finish later with `auth complete`',
      },
    },
    maxArgs: 1,
    run: async ({ io, global, out, args, options }) => {
      const [server] = args;
      if (server === undefined) {
        throw new UsageError('"auth login" needs a SERVER.', 'mcp-agent auth login --help');
      }
      if (options['no-wait'] === true && options.device === true) {
        throw new UsageError(
          '"auth login --no-wait" uses the browser flow; it cannot be combined with --device.',
          'mcp-agent auth login --help',
        );
      }
      return (await authCommands()).authLogin(io, global, out, server, {
        ...loginFlags(options),
        noWait: options['no-wait'] === true,
      });
    },
  },
  {
    path: ['auth', 'complete'],
    summary: 'finish a login started with `auth login --no-wait`',
    usage: "mcp-agent [--config PATH] [--json] auth complete 'ADDRESS'",
    description:
      'Takes the address the browser was redirected to after approving a login started with\n`auth login SERVER --no-wait` (or handed over by a tool call where no user could be asked), checks its\nstate and issuer, exchanges the code with the PKCE verifier kept in the token store, and keeps the token.\nA login completes once; an unknown, expired or completed one is refused.',
    options: {},
    maxArgs: 1,
    run: async ({ io, global, out, args }) => {
      const [address] = args;
      if (address === undefined) {
        throw new UsageError(
          '"auth complete" needs the ADDRESS the browser ended on.',
          'mcp-agent auth complete --help',
        );
      }
      return (await authCommands()).authComplete(io, global, out, address);
    },
  },
  {
    path: ['serve'],
    summary: 'run the app as an MCP server (Streamable HTTP at /mcp)',
    usage:
      'mcp-agent [--config PATH] [--json] serve [--host HOST] [--port PORT] [--app PATH | --front NAME]',
    description:
      'Serves the aggregated tools of mcp.servers and the tools and workflows of the app module over MCP\nStreamable HTTP at /mcp (and legacy SSE at /sse). With authorization.enabled, every request needs a\nbearer token for resource_server_url (JWKS or introspection), the protected-resource metadata is served\nat /.well-known/oauth-protected-resource/mcp, and tool scopes are checked. The URL is printed on stdout\nwhen it listens; Ctrl-C stops it. With --front NAME (or front: NAME), it serves only the configured server\nNAME, its tools under their own names, and nothing of an app module (docs/serve.md).',
    options: SERVE_OPTIONS,
    maxArgs: 0,
    run: async ({ io, global, out, options }) =>
      (await serveCommands()).serve(io, global, out, {
        host: stringOption(options.host),
        port: portOption(options.port, 'port'),
        app: stringOption(options.app),
        front: stringOption(options.front),
      }),
  },
  {
    path: ['dev'],
    summary: 'serve the app protected by the embedded development authorization server',
    usage:
      'mcp-agent [--config PATH] [--json] dev [--auto-approve] [--dev-user NAME] [--issuer-port PORT] [--port PORT] [--app PATH | --front NAME]',
    description:
      'Starts a development OAuth authorization server (oidc-provider) on 127.0.0.1:8001 — dynamic client\nregistration, PKCE, JWT access tokens for the app, refresh tokens, introspection, revocation, device\nflow — and serves the app protected by it on 127.0.0.1:8000. A login page asks for a user name; with\n--auto-approve every login is approved at once as --dev-user (default "dev"), for scripts. Development\nonly: it keeps everything in memory and listens on loopback.',
    options: {
      ...SERVE_OPTIONS,
      'issuer-port': {
        type: 'string',
        value: 'PORT',
        help: 'port of the development authorization server (default 8001)',
      },
      'auto-approve': { type: 'boolean', help: 'approve every login at once (no page)' },
      'dev-user': {
        type: 'string',
        value: 'NAME',
        help: 'the user --auto-approve logs in (default dev)',
      },
    },
    maxArgs: 0,
    run: async ({ io, global, out, options }) =>
      (await serveCommands()).dev(io, global, out, {
        host: stringOption(options.host),
        port: portOption(options.port, 'port'),
        app: stringOption(options.app),
        front: stringOption(options.front),
        issuerPort: portOption(options['issuer-port'], 'issuer-port'),
        autoApprove: options['auto-approve'] === true,
        devUser: stringOption(options['dev-user']),
      }),
  },
  {
    path: ['auth', 'status'],
    summary: 'show stored tokens: identity, scopes, expiry, refresh token (never values)',
    usage: 'mcp-agent [--config PATH] [--json] auth status [SERVER] [--all-identities]',
    description:
      'For each server that uses OAuth (or SERVER), shows whose token is stored, for which authorization\nserver and scopes, when it expires and whether a refresh token is held. No token value is shown and\nno request is made. With --all-identities, every identity of the store (each caller of a served agent).',
    options: {
      'all-identities': { type: 'boolean', help: "every identity's tokens (an operator's view)" },
    },
    maxArgs: 1,
    run: async ({ io, global, out, args, options }) =>
      options['all-identities'] === true
        ? (await authAdminCommands()).authStatusAll(io, global, out, args[0])
        : (await authCommands()).authStatus(io, global, out, args[0]),
  },
  {
    path: ['auth', 'logout'],
    summary: 'revoke (RFC 7009) and forget the tokens of a server, or of all',
    usage: "mcp-agent [--config PATH] [--json] auth logout SERVER | --all | --identity 'ID' SERVER",
    description:
      'Revokes the refresh token, then the access token, where the authorization server has a revocation\nendpoint, then deletes them from the token store. A revocation that fails is reported (exit code 1);\nthe tokens are deleted anyway.',
    options: {
      all: { type: 'boolean', help: 'every server that uses OAuth' },
      identity: {
        type: 'string',
        value: 'ID',
        help: 'the identity whose tokens to forget (from auth status --all-identities)',
      },
    },
    maxArgs: 1,
    run: async ({ io, global, out, args, options }) => {
      const all = options.all === true;
      if (typeof options.identity === 'string') {
        if (all || args[0] === undefined) {
          throw new UsageError(
            '"auth logout --identity ID" needs exactly one SERVER (not --all).',
            'mcp-agent auth logout --help',
          );
        }
        return (await authAdminCommands()).authLogoutIdentity(
          io,
          global,
          out,
          options.identity,
          args[0],
        );
      }
      if ((args[0] === undefined) === !all) {
        throw new UsageError(
          '"auth logout" needs a SERVER or --all (not both).',
          'mcp-agent auth logout --help',
        );
      }
      return (await authCommands()).authLogout(io, global, out, args[0], all);
    },
  },
  {
    path: ['doctor'],
    summary: 'walk discovery, registration, login, refresh and one call for a server',
    usage: 'mcp-agent [--config PATH] [--json] doctor SERVER',
    description:
      'Checks a server step by step: its configuration, OAuth discovery (protected-resource and authorization\nserver metadata), client registration, the stored login, a refresh when one is due, and one tools/list.\nEach step prints what it found; a failed step says what to do. Never starts a login.',
    options: {},
    maxArgs: 1,
    run: async ({ io, global, out, args }) => {
      const [server] = args;
      if (server === undefined) {
        throw new UsageError('"doctor" needs a SERVER.', 'mcp-agent doctor --help');
      }
      return (await doctorCommand()).doctor(io, global, out, server);
    },
  },
  {
    path: ['init'],
    summary: 'write a starter mcp_agent.config.yaml and mcp_agent.secrets.yaml',
    usage: 'mcp-agent init [--dir DIR] [--force]',
    description:
      'Writes a commented mcp_agent.config.yaml, an mcp_agent.secrets.yaml readable only by you (mode 0600),\nand a .gitignore entry for the secrets file. An existing config file is kept unless --force is given;\nan existing secrets file is never overwritten.',
    options: {
      dir: {
        type: 'string',
        value: 'DIR',
        help: 'where to write the files (default: the working directory)',
      },
      force: { type: 'boolean', help: 'replace an existing mcp_agent.config.yaml' },
    },
    maxArgs: 0,
    run: async ({ io, out, options }) =>
      (await initCommand()).init(io, out, {
        ...(typeof options.dir === 'string' ? { dir: options.dir } : {}),
        force: options.force === true,
      }),
  },
];

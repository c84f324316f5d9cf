/**
 * Agent benchmark (issue 17, item 7), on the built library (dist/): `npm run bench`.
 * Prints one `BENCH <name> <number>` line per figure (and `#` lines that explain them):
 *
 * - agent.loop_overhead_ratio: one request answered with one tool call (model → tool call →
 *   model → final text) through our `Agent` + `attachLlm('openai').generateStr` ÷ the same
 *   request through the AI SDK's `generateText` called directly, with the same model (the real
 *   `@ai-sdk/openai` provider from `modelFor`, against a local stand-in of OpenAI's chat
 *   completions, bench/chat-stand-in.mjs) and the same MCP tool called on the same connection
 *   (the `Client` of `createAgentAuth(...).connect`, to a stdio MCP server with one `echo` tool,
 *   bench/agent-echo-server.mjs). Goal ≤ 1.05. Beside it the µs per request of each
 *   (`agent.sdk_call_us`, `agent.agent_call_us`) and what the agent adds (`agent.overhead_us`).
 *   Sequential requests, the two variants alternating request by request; per round the median
 *   µs of a request of each, then the medians over the rounds (with their range in `#` lines).
 *   `agent.control_ratio`: the direct `generateText` against itself, measured the same way: what
 *   the ratio reads on this machine when there is no difference at all.
 *   `agent.list_tools_us`: `agent.listTools()` alone, which the agent does at each request (its
 *   servers' tools are kept per connection until a server sends tools/list_changed);
 *   `agent.tools_list_round_trip_us`: one `tools/list` on the connection, which that saves.
 * - agent.concurrent_100_peak_rss_mb / _peak_heap_mb: the peak RSS and heap of the process while
 *   100 agent runs (each a new `Agent` and `attachLlm`, one tool call each) are in flight at
 *   once; `agent.concurrent_100_heap_added_mb`: the peak heap above the heap before the runs
 *   (after a GC). The same for 100 direct `generateText` runs (`agent.sdk_concurrent_100_*`).
 *   Sampled every millisecond and at each request the stand-in answers; the median of 3
 *   alternating rounds. Run with --expose-gc.
 *
 * BENCH_AGENT_ROUNDS and BENCH_AGENT_CALLS change the sizes.
 */
import { fileURLToPath } from 'node:url';
import { generateText, jsonSchema, stepCountIs, tool } from 'ai';
import { Agent, modelFor } from '../dist/agent/index.js';
import { createAgentAuth } from '../dist/client/index.js';
import { startChatStandIn } from './chat-stand-in.mjs';

const ECHO_SERVER = fileURLToPath(new URL('./agent-echo-server.mjs', import.meta.url));
const SERVER = 'bench';
const TOOL = `${SERVER}_echo`;
const INSTRUCTION = 'You echo things.';
const PROMPT = 'Echo hi.';
const ROUNDS = Number(process.env.BENCH_AGENT_ROUNDS ?? 30);
const CALLS = Number(process.env.BENCH_AGENT_CALLS ?? 50);
const CONCURRENT = 100;
const began = performance.now();

function bench(name, value) {
  console.log(`BENCH ${name} ${value}`);
}

function note(text) {
  console.log(`# ${text}`);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);

/** The peak RSS and heap seen by `sample()` calls (and a 1 ms timer) while `run` runs. */
const peaks = { rss: 0, heap: 0 };
// Only while peakOf runs: process.memoryUsage() costs about as much as a tool call here.
let sampling = false;
function sample() {
  const { rss, heapUsed } = process.memoryUsage();
  peaks.rss = Math.max(peaks.rss, rss);
  peaks.heap = Math.max(peaks.heap, heapUsed);
}

async function peakOf(run) {
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  peaks.rss = 0;
  peaks.heap = 0;
  sampling = true;
  const timer = setInterval(sample, 1);
  try {
    await run();
  } finally {
    clearInterval(timer);
    sampling = false;
  }
  sample();
  return { rss: peaks.rss, heap: peaks.heap, added: peaks.heap - before };
}

const chat = await startChatStandIn({
  toolName: TOOL,
  onRequest: () => {
    if (sampling) sample();
  },
});
const settings = {
  mcp: { servers: { [SERVER]: { command: process.execPath, args: [ECHO_SERVER] } } },
  openai: { api_key: 'sk-bench', base_url: `${chat.url}/v1`, default_model: 'gpt-4o' },
};
const auth = createAgentAuth({ settings, env: {} });
const agent = new Agent(
  { name: 'echoer', instruction: INSTRUCTION, serverNames: [SERVER] },
  { auth },
);
const llm = await agent.attachLlm('openai');

// The direct use of the AI SDK: the same model, the same tool on the same connection.
const model = await modelFor(auth.settings, 'openai');
const client = await auth.connect(SERVER);
const { tools: listed } = await client.listTools();
const echo = listed.find((each) => each.name === 'echo');
const sdkTools = {
  [TOOL]: tool({
    description: echo.description,
    inputSchema: jsonSchema(echo.inputSchema),
    execute: (input, { abortSignal }) =>
      client.callTool({ name: 'echo', arguments: input }, undefined, { signal: abortSignal }),
    toModelOutput: ({ output }) => ({
      type: 'text',
      value: output.content.map((part) => part.text).join('\n'),
    }),
  }),
};

function viaSdk() {
  return generateText({
    model,
    instructions: INSTRUCTION,
    messages: [{ role: 'user', content: PROMPT }],
    tools: sdkTools,
    stopWhen: stepCountIs(10),
  }).then((result) => result.text);
}

function viaAgent() {
  return llm.generateStr(PROMPT, { useHistory: false });
}

/** The µs of one request of `run`, its answer checked. */
async function timed(run) {
  const start = performance.now();
  const text = await run();
  const us = (performance.now() - start) * 1000;
  if (!text.includes('hi')) throw new Error(`unexpected answer: ${text}`);
  return us;
}

/**
 * One round: CALLS requests of `first` and of `second`, alternating one by one (each going first
 * in every other pair), so that the load of the shared machine falls on both alike; the median µs
 * of a request of each (a request the machine stalled does not move it).
 */
async function round(first, second) {
  const a = [];
  const b = [];
  for (let call = 0; call < CALLS; call += 1) {
    if (call % 2) {
      b.push(await timed(second));
      a.push(await timed(first));
    } else {
      a.push(await timed(first));
      b.push(await timed(second));
    }
  }
  return { first: median(a), second: median(b) };
}

// --- The loop's overhead per tool call ------------------------------------------------------
async function listToolsUs(list) {
  const start = performance.now();
  for (let call = 0; call < CALLS; call += 1) await list();
  return ((performance.now() - start) * 1000) / CALLS;
}

const samples = { sdk: [], agent: [], ratio: [], added: [], control: [], list: [], roundTrip: [] };
for (let index = -2; index < ROUNDS; index += 1) {
  const measured = await round(viaAgent, viaSdk);
  // The control: the direct generateText against itself, measured the same way.
  const control = await round(viaSdk, viaSdk);
  const list = await listToolsUs(() => agent.listTools());
  const roundTrip = await listToolsUs(() => client.listTools());
  if (index < 0) continue; // warm-up
  samples.sdk.push(measured.second);
  samples.agent.push(measured.first);
  samples.ratio.push(measured.first / measured.second);
  samples.added.push(measured.first - measured.second);
  samples.control.push(control.first / control.second);
  samples.list.push(list);
  samples.roundTrip.push(roundTrip);
}

const range = (values, digits) =>
  `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
note(
  `one request = model call → ${TOOL} (MCP tools/call over stdio) → model call → final text; the model is @ai-sdk/openai against a local chat-completions stand-in (in this process); ${ROUNDS} rounds of ${CALLS} requests per variant, the variants alternating request by request; medians of the per-round figures, [min–max over the rounds]`,
);
note(
  'agent: Agent + attachLlm(openai).generateStr (useHistory: false); sdk: generateText directly',
);
bench('agent.sdk_call_us', median(samples.sdk).toFixed(0));
bench('agent.agent_call_us', median(samples.agent).toFixed(0));
bench('agent.overhead_us', median(samples.added).toFixed(0));
note(`agent.overhead_us over the rounds: [${range(samples.added, 0)}]`);
bench('agent.loop_overhead_ratio', median(samples.ratio).toFixed(3));
note(`agent.loop_overhead_ratio over the rounds: [${range(samples.ratio, 3)}]`);
note(
  'the control: the direct generateText against itself, measured the same way (what the ratio reads with no difference at all: the noise of this machine)',
);
bench('agent.control_ratio', median(samples.control).toFixed(3));
note(`agent.control_ratio over the rounds: [${range(samples.control, 3)}]`);
note(
  "agent.list_tools_us: agent.listTools() alone, which each request does (its servers' tools are kept per connection until a server sends tools/list_changed); agent.tools_list_round_trip_us: one tools/list on the connection, which it saves",
);
bench('agent.list_tools_us', median(samples.list).toFixed(1));
bench('agent.tools_list_round_trip_us', median(samples.roundTrip).toFixed(0));

// --- Peak memory of 100 concurrent runs -----------------------------------------------------
async function concurrentAgents() {
  const runs = Array.from({ length: CONCURRENT }, async (_, index) => {
    const each = new Agent(
      { name: `echoer-${index}`, instruction: INSTRUCTION, serverNames: [SERVER] },
      { auth },
    );
    return (await each.attachLlm('openai')).generateStr(PROMPT);
  });
  const texts = await Promise.all(runs);
  if (!texts.every((text) => text.includes('hi'))) throw new Error('a concurrent run failed');
}

async function concurrentSdk() {
  const texts = await Promise.all(Array.from({ length: CONCURRENT }, viaSdk));
  if (!texts.every((text) => text.includes('hi'))) throw new Error('a concurrent run failed');
}

const memory = { agent: [], sdk: [] };
for (let round = 0; round < 3; round += 1) {
  const order = round % 2 ? ['agent', 'sdk'] : ['sdk', 'agent'];
  for (const name of order) {
    memory[name].push(await peakOf(name === 'agent' ? concurrentAgents : concurrentSdk));
  }
}
note(
  `${CONCURRENT} runs in flight at once (one tool call each, one shared MCP connection), peak of the whole process in MiB (the stand-ins' model server runs in it too), median of 3 alternating rounds`,
);
for (const [name, prefix] of [
  ['agent', 'agent.concurrent_100'],
  ['sdk', 'agent.sdk_concurrent_100'],
]) {
  bench(`${prefix}_peak_rss_mb`, mb(median(memory[name].map((each) => each.rss))));
  bench(`${prefix}_peak_heap_mb`, mb(median(memory[name].map((each) => each.heap))));
  bench(`${prefix}_heap_added_mb`, mb(median(memory[name].map((each) => each.added))));
}

await auth.close();
await chat.close();
note(`agent bench took ${((performance.now() - began) / 1000).toFixed(1)} s`);

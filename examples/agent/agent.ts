// The example app module: tools and a workflow of the agent's own, served by `mcp-agent serve`
// (or `npm start`, which runs `mcp-agent dev`) beside the tools of the downstream servers.
import { defineApp } from 'mcp-agent-ts';
import * as z from 'zod';

export default defineApp((app) => {
  app.tool(
    'whoami',
    {},
    (_args, { caller }) => ({
      subject: caller?.subject ?? 'anonymous',
      issuer: caller?.issuer ?? null,
      scopes: caller?.scopes ?? [],
    }),
    { description: 'Who the agent thinks is calling (from the verified access token).' },
  );

  app.tool('add', { a: z.number(), b: z.number() }, ({ a, b }) => String(a + b), {
    description: 'Add two numbers.',
  });

  app.tool('admin_report', {}, (_args, { caller }) => `Report for ${caller?.subject}: all good.`, {
    description:
      'Needs the mcp:admin scope: a client without it gets 403 insufficient_scope and steps up.',
    scopes: ['mcp:admin'],
  });

  app.workflow(
    'countdown',
    async (input, { signal }) => {
      const from = typeof input.from === 'number' ? Math.min(input.from, 10) : 3;
      for (let i = from; i > 0; i -= 1) {
        if (signal.aborted) throw new Error('cancelled');
        await new Promise((done) => setTimeout(done, 100));
      }
      return { done: true, from };
    },
    { description: 'Count down from `from` (at most 10), 100 ms per step.' },
  );
});

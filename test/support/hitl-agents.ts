/**
 * An agent and tools for the human-in-the-loop tests: each message says what to do, and every
 * execution of a tool is counted, so that a test can see that none ran twice.
 */
import type { AgentDefinition } from '../../src/agents/contract.ts';
import { ToolDeniedError } from '../../src/agents/errors.ts';
import type { ToolDefinition } from '../../src/runtime/tools.ts';

/** How often each tool ran, in this process, by `${tool} ${conversation}`-free key: the tool's name and its `ref` argument. */
export const executions = new Map<string, number>();

const count = (key: string) => executions.set(key, (executions.get(key) ?? 0) + 1);

export const HITL_TOOLS: ToolDefinition[] = [
  {
    name: 'test.transfer',
    description: 'Moves money; a person approves each call.',
    inputSchema: { type: 'object', properties: { ref: { type: 'string' }, amount: { type: 'number' } }, required: ['ref', 'amount'] },
    needsApproval: true,
    execute: (args) => {
      count(`test.transfer ${String(args['ref'])}`);
      return { transferred: args['amount'] };
    },
  },
  {
    name: 'test.lookup',
    description: 'Reads something; approval only above a threshold.',
    inputSchema: { type: 'object', properties: { ref: { type: 'string' }, size: { type: 'number' } }, required: ['ref', 'size'] },
    needsApproval: (args) => Number(args['size']) > 10,
    execute: (args) => {
      count(`test.lookup ${String(args['ref'])}`);
      return { size: args['size'] };
    },
  },
  {
    name: 'test.locate',
    description: "The browser's location, as the frontend knows it.",
    inputSchema: { type: 'object', properties: {} },
    executedBy: 'client',
  },
];

/**
 * Does what its message says: "transfer <ref>", "question", "schema", "client", "frontend <tool>", "two <ref>",
 * "expire", "lookup <ref> <size>", "bad-question", "bad-schema".
 */
export const approver: AgentDefinition = {
  id: 'test.approver',
  kind: 'LIAISON',
  pillar: null,
  name: 'Approver',
  description: 'Asks people before it acts.',
  async run(context) {
    const [command, ref = 'x', size = '0'] = context.input.text.split(' ');
    await context.think(`Working on ${command}.`);
    const transfer = async (amount: number) => {
      try {
        const result = await context.callTool<{ transferred: number }>('test.transfer', { ref, amount });
        await context.say(`Transferred ${result.transferred}.`);
      } catch (error) {
        if (!(error instanceof ToolDeniedError)) throw error;
        await context.say(`Not transferred: ${error.message}`);
      }
    };
    switch (command) {
      case 'transfer':
        return transfer(5);
      case 'two':
        await transfer(1);
        return transfer(2);
      case 'lookup': {
        const found = await context.callTool<{ size: number }>('test.lookup', { ref, size: Number(size) });
        return context.say(`Found ${found.size}.`);
      }
      case 'question': {
        const color = await context.ask({ prompt: 'Which color?', options: ['red', 'blue'] });
        return context.say(`You chose ${String(color)}.`);
      }
      case 'schema': {
        const answer = (await context.ask({
          prompt: 'How many?',
          answerSchema: { type: 'object', properties: { count: { type: 'integer', minimum: 1 } }, required: ['count'] },
        })) as { count: number };
        return context.say(`Counting ${answer.count}.`);
      }
      case 'frontend': {
        // A tool the frontend offered with the message (AG-UI's RunAgentInput.tools).
        const result = await context.callTool<unknown>(ref, { reason: 'asked' });
        return context.say(`The frontend said ${JSON.stringify(result)}.`);
      }
      case 'client': {
        const where = await context.callTool<{ city: string }>('test.locate', {});
        return context.say(`You are in ${where.city}.`);
      }
      case 'bad-question':
        await context.ask({ prompt: 'Pick one', options: ['same', 'same'] });
        return context.say('Never said.');
      case 'bad-schema':
        await context.ask({ prompt: 'How many?', answerSchema: { type: 'no-such-type' } });
        return context.say('Never said.');
      case 'expire':
        await context.ask({ prompt: 'Quick, yes or no?', options: ['yes', 'no'], expiresInMs: Number(size) || 300 });
        return context.say('Too late to see this.');
      default:
        return context.say(`Nothing to do for ${command}.`);
    }
  },
};

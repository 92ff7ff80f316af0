/**
 * Sends one message to the gateway and follows its run to its end, printing the reply as it
 * streams. `npm start -- [--url http://localhost:4000] [--token JWT] [--cancel] [message]`:
 * without --token it gets a dev token; with --cancel it cancels the run once it has started.
 * Exits 0 when the run completes (or is cancelled as asked), 1 otherwise.
 */
import { parseArgs } from 'node:util';
import type { ApolloClient } from '@apollo/client';
import { createApolloClient, devToken } from './client.js';
import type { FollowRunSubscription } from './gql/graphql.js';
import { CancelRun, FollowRun, SendMessage } from './operations.js';

type AgentEvent = FollowRunSubscription['agentEvents'];

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string', default: process.env['GATEWAY_URL'] ?? 'http://localhost:4000' },
    token: { type: 'string' },
    cancel: { type: 'boolean', default: false },
  },
});
const gatewayUrl = options.url.replace(/\/$/, '');
const token = options.token ?? (await devToken(gatewayUrl, 'example-client'));
const client = createApolloClient({ gatewayUrl, token });

const { data } = await client.mutate({
  mutation: SendMessage,
  variables: {
    input: positionals.length > 0
      ? { text: positionals.join(' ') }
      : {
          text: 'What trends are in this data?',
          surface: 'INSIGHTS',
          context: { files: [{ name: 'sales.csv', content: 'month,revenue\n2026-01-01,120\n2026-02-01,135\n2026-03-01,160\n' }] },
        },
  },
});
const sent = data!.sendAgentMessage; // typed: sent.afterSeq is a number, sent.run.status a RunStatus
console.log(`conversation ${sent.conversation.id}, run ${sent.run.id} (${sent.run.agentId})`);

const terminal = await followRun(client, sent, (event) => {
  if (event.__typename === 'AgentToken') process.stdout.write(event.delta);
  else if (event.__typename === 'AgentArtifact') console.log(`\n[${event.kind}] ${event.title}`);
  else if (event.__typename === 'ToolExecuting') console.log(`[tool] ${event.toolName}`);
  if (options.cancel && event.__typename === 'AgentStarted') {
    void client.mutate({ mutation: CancelRun, variables: { runId: sent.run.id } });
  }
});
console.log(`\n${describeEnd(terminal)}`);
client.stop();
const asked = terminal.__typename === 'AgentCompleted' || (options.cancel && terminal.__typename === 'AgentCancelled');
process.exitCode = asked ? 0 : 1;

/**
 * Subscribes from the send's afterSeq (so nothing of the run is missed, however late) with its
 * runId: the gateway completes the subscription after the run's terminal event, whichever it is.
 */
function followRun(
  apollo: ApolloClient,
  run: { conversation: { id: string }; run: { id: string }; afterSeq: number },
  onEvent: (event: AgentEvent) => void,
): Promise<AgentEvent> {
  return new Promise((resolve, reject) => {
    let last: AgentEvent | null = null;
    apollo
      .subscribe({
        query: FollowRun,
        variables: { conversationId: run.conversation.id, afterSeq: run.afterSeq, runId: run.run.id },
        fetchPolicy: 'no-cache', // events are a stream to render, not entities to cache
      })
      .subscribe({
        next: ({ data: result, error }) => {
          if (error) return reject(error);
          if (!result) return;
          last = result.agentEvents;
          onEvent(last);
        },
        error: reject,
        complete: () => (last ? resolve(last) : reject(new Error('the subscription ended with no event'))),
      });
  });
}

function describeEnd(event: AgentEvent): string {
  switch (event.__typename) {
    case 'AgentCompleted':
      return 'AgentCompleted';
    case 'AgentFailed':
      return `AgentFailed: ${event.error.code}: ${event.error.message}${event.error.retryable ? ' (retryable)' : ''}`;
    case 'AgentCancelled':
      return `AgentCancelled: ${event.reason}`;
    default:
      return `ended after ${event.__typename}`;
  }
}

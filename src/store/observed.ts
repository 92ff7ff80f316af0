import type { InputRequestStore, SendStore } from './interfaces.ts';
import type { StoredEvent } from '../domain/events.ts';

/** The same send store, telling `onAppend` of the MessageCreated event of every send it stores. */
export function observeSends(sends: SendStore, onAppend: (event: StoredEvent) => void): SendStore {
  return {
    async commit(send) {
      const outcome = await sends.commit(send);
      if (outcome.outcome === 'stored') onAppend(outcome.event);
      return outcome;
    },
  };
}

/** The same input request store, telling `onAppend` of the AgentInputReceived of every answer it stores. */
export function observeAnswers(inputs: InputRequestStore, onAppend: (event: StoredEvent) => void): InputRequestStore {
  return {
    open: (request) => inputs.open(request),
    get: (id) => inputs.get(id),
    pending: (conversationId) => inputs.pending(conversationId),
    async answer(id, response, lease) {
      const outcome = await inputs.answer(id, response, lease);
      if (outcome.outcome === 'answered') onAppend(outcome.event);
      return outcome;
    },
    resumeIfAnswered: (runId, lease) => inputs.resumeIfAnswered(runId, lease),
    close: (runId, conversationId, status, requestId) => inputs.close(runId, conversationId, status, requestId),
    claimDue: (ttlMs, limit) => inputs.claimDue(ttlMs, limit),
  };
}

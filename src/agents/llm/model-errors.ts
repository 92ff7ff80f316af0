/**
 * What a model provider's failure means for the run: the AgentFailed code a client can act on.
 * Rate limits and unreachable or failing providers are worth a retry; a request the provider
 * refuses (bad key, unknown model) is not.
 */
import { APICallError, RetryError } from 'ai';
import { AgentError } from '../errors.ts';

/** Network failures that mean "the provider could not be reached, or dropped us". */
const CONNECTION_FAILURES =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|UND_ERR_SOCKET|fetch failed|terminated|socket hang up|other side closed/i;

export function modelError(error: unknown): AgentError | null {
  if (error instanceof AgentError) return error;
  if (RetryError.isInstance(error)) return modelError(error.lastError);
  if (isConnectionFailure(error)) return new AgentError('UNAVAILABLE', 'The connection to the model provider failed; retry shortly.', true);
  if (APICallError.isInstance(error)) {
    const status = error.statusCode;
    if (status === 429) return new AgentError('RATE_LIMITED', 'The model provider is rate limiting requests; retry shortly.', true);
    if (status === undefined || status >= 500) {
      return new AgentError('UNAVAILABLE', `The model provider is unavailable${status ? ` (HTTP ${status})` : ''}; retry shortly.`, true);
    }
    if (status === 408) return new AgentError('UNAVAILABLE', 'The model provider timed out; retry shortly.', true);
    return new AgentError('MODEL_ERROR', `The model provider refused the request (HTTP ${status}).`, false);
  }
  return null;
}

function isConnectionFailure(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth += 1) {
    const code = (cause as { code?: unknown }).code;
    if (CONNECTION_FAILURES.test(`${typeof code === 'string' ? code : ''} ${cause.message}`)) return true;
  }
  return false;
}

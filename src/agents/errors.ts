/**
 * What an agent throws to end its run with a chosen error: the run's AgentFailed carries exactly
 * this code, message and retryable flag. Anything else an agent throws becomes a masked,
 * non-retryable AGENT_ERROR.
 */
import type { AgentErrorInfo } from '../domain/records.ts';

export class AgentError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable = false,
  ) {
    super(message);
    this.name = 'AgentError';
  }

  toInfo(): AgentErrorInfo {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

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

/**
 * A tool call a person refused to approve (TOOL_DENIED, with their comment as its message). The
 * agent may catch it and go on; an LLM agent hands it to its model as the tool's result.
 */
export class ToolDeniedError extends AgentError {
  constructor(
    readonly toolName: string,
    message: string,
  ) {
    super('TOOL_DENIED', message, false);
    this.name = 'ToolDeniedError';
  }
}

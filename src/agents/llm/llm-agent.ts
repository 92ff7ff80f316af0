/**
 * An agent backed by a language model through the Vercel AI SDK, on any provider it supports
 * (`@ai-sdk/openai-compatible` reaches OpenAI, vLLM, Ollama, LM Studio, llama.cpp's server):
 *
 *   llmAgent({ id: 'support', name: 'Support', description: '...', kind: 'LIAISON',
 *              model: createOpenAICompatible({ name: 'local', baseURL }).chatModel('qwen3'),
 *              instructions: 'You answer support questions.', tools: ['files.ingest'] })
 */
import type { LanguageModel } from 'ai';
import type { AgentContext, AgentDefinition } from '../contract.ts';
import { defineAgent, type AgentIdentity } from '../define.ts';
import type { ArtifactOf } from '../platform-artifacts.ts';
import { AgentError } from '../errors.ts';
import { conversationMessages } from './messages.ts';
import { streamModel } from './stream-model.ts';

export interface LlmAgentOptions extends AgentIdentity {
  model: LanguageModel;
  /** The system prompt, or a function of the run that makes it. */
  instructions?: string | ((context: AgentContext) => string);
  /** Names of registered tools the model may call (default: none). */
  tools?: readonly string[];
  /** Artifacts to show for those tools' results, by tool name (default: none). */
  artifacts?: Readonly<Record<string, ArtifactOf>>;
  /** Model calls per run at most, tool round trips included (default 5). */
  maxSteps?: number;
  /** Retries of a request that failed before streaming anything (default 2). */
  maxRetries?: number;
}

export const DEFAULT_MAX_STEPS = 5;
export const DEFAULT_MAX_RETRIES = 2;

export function llmAgent(options: LlmAgentOptions): AgentDefinition {
  return defineAgent(options, async (context) => {
    const wanted = new Set(options.tools ?? []);
    const missing = [...wanted].filter((name) => !context.tools.some((tool) => tool.name === name));
    if (missing.length > 0) throw new AgentError('UNKNOWN_TOOL', `${options.id} offers tools that are not registered: ${missing.join(', ')}.`);
    await streamModel(context, {
      model: options.model,
      system: systemPrompt(options, context),
      messages: conversationMessages(context),
      tools: context.tools.filter((tool) => wanted.has(tool.name)),
      ...(options.artifacts && { artifacts: options.artifacts }),
      maxSteps: options.maxSteps ?? DEFAULT_MAX_STEPS,
      maxRetries: options.maxRetries ?? DEFAULT_MAX_RETRIES,
    });
  });
}

function systemPrompt(options: LlmAgentOptions, context: AgentContext): string {
  const instructions = typeof options.instructions === 'function' ? options.instructions(context) : options.instructions;
  return instructions ?? `You are ${options.name}: ${options.description}`;
}

/**
 * The agents and tools a process runs, gateway or worker alike: the defaults the settings call
 * for (the deterministic agents, or the same agents on LLM_MODEL, plus REMOTE_AGENTS), with the
 * application's own applied. Gateways and their workers must build the same.
 */
import { agUiAgent } from './agents/ag-ui/ag-ui-agent.ts';
import type { AgentDefinition } from './agents/contract.ts';
import { BUILT_IN_AGENTS } from './agents/index.ts';
import { openAICompatibleModel } from './agents/llm/openai-compatible.ts';
import { llmPlatformAgents } from './agents/llm/platform-agents.ts';
import { AgentRegistry, type AgentsOption } from './agents/registry.ts';
import type { Config } from './config.ts';
import { PLATFORM_TOOLS } from './runtime/platform-tools.ts';
import { ToolRegistry, type ApprovalPolicy, type ToolsOption } from './runtime/tools.ts';

export interface Registries {
  agents: AgentRegistry;
  tools: ToolRegistry;
}

/** What an application adds to (or puts in place of) the defaults. */
export interface RegistryOptions {
  agents?: AgentsOption;
  tools?: ToolsOption;
}

export function createRegistries(config: Config, options: RegistryOptions = {}): Registries {
  return {
    agents: AgentRegistry.compose(defaultAgents(config), options.agents),
    tools: ToolRegistry.compose(PLATFORM_TOOLS, options.tools, approvalPolicy(config.TOOLS_REQUIRING_APPROVAL)),
  };
}

/** TOOLS_REQUIRING_APPROVAL: `*` for every tool, else the names listed. */
function approvalPolicy(setting: string | undefined): ApprovalPolicy {
  if (setting?.trim() === '*') return 'all';
  return new Set(
    (setting ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  );
}

function defaultAgents(config: Config): AgentDefinition[] {
  const platform =
    config.LLM_BASE_URL && config.LLM_MODEL
      ? llmPlatformAgents({
          model: openAICompatibleModel({ baseURL: config.LLM_BASE_URL, model: config.LLM_MODEL, apiKey: config.LLM_API_KEY }),
          maxSteps: config.LLM_MAX_STEPS,
          maxRetries: config.LLM_MAX_RETRIES,
        })
      : [...BUILT_IN_AGENTS];
  return [...platform, ...(config.REMOTE_AGENTS ?? []).map((remote) => agUiAgent(remote))];
}

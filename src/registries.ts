/**
 * The agents and tools a process runs, gateway or worker alike: the defaults the settings call
 * for, with the application's own applied. Gateways and their workers must build the same.
 */
import { BUILT_IN_AGENTS } from './agents/index.ts';
import { AgentRegistry, type AgentsOption } from './agents/registry.ts';
import type { Config } from './config.ts';
import { PLATFORM_TOOLS } from './runtime/platform-tools.ts';
import { ToolRegistry, type ToolsOption } from './runtime/tools.ts';

export interface Registries {
  agents: AgentRegistry;
  tools: ToolRegistry;
}

/** What an application adds to (or puts in place of) the defaults. */
export interface RegistryOptions {
  agents?: AgentsOption;
  tools?: ToolsOption;
}

export function createRegistries(_config: Config, options: RegistryOptions = {}): Registries {
  return {
    agents: AgentRegistry.compose(BUILT_IN_AGENTS, options.agents),
    tools: ToolRegistry.compose(PLATFORM_TOOLS, options.tools),
  };
}

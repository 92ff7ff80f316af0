/**
 * Platform intents: the operations agents may run as tool calls. The runtime owns the registry
 * so that every call is observable (ToolExecuting / ToolCompleted) whichever agent makes it.
 */
import type { AttachedFile } from '../agents/contract.ts';
import type { MessageRecord } from '../store/types.ts';

export interface IntentScope {
  files: readonly AttachedFile[];
  history: readonly MessageRecord[];
  signal: AbortSignal;
}

export interface PlatformIntent {
  name: string;
  description: string;
  execute(args: Record<string, unknown>, scope: IntentScope): unknown;
}

export class IntentRegistry {
  private readonly intents = new Map<string, PlatformIntent>();

  register(...intents: PlatformIntent[]): this {
    for (const intent of intents) {
      if (this.intents.has(intent.name)) throw new Error(`intent ${intent.name} is registered twice`);
      this.intents.set(intent.name, intent);
    }
    return this;
  }

  list(): PlatformIntent[] {
    return [...this.intents.values()];
  }

  async execute(name: string, args: Record<string, unknown>, scope: IntentScope): Promise<unknown> {
    const intent = this.intents.get(name);
    if (!intent) throw new Error(`unknown intent ${name}`);
    return intent.execute(args, scope);
  }
}

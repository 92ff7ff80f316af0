import { describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../../src/agents/contract.ts';
import { BUILT_IN_AGENTS } from '../../src/agents/index.ts';
import { AgentRegistry } from '../../src/agents/registry.ts';
import { PLATFORM_TOOLS } from '../../src/runtime/platform-tools.ts';
import { ToolInputError, ToolRegistry, type ToolDefinition } from '../../src/runtime/tools.ts';

const agent = (id: string, extra: Partial<AgentDefinition> = {}): AgentDefinition => ({
  id,
  kind: 'LIAISON',
  pillar: null,
  name: id,
  description: '',
  run: async () => undefined,
  ...extra,
});

describe('agent registry', () => {
  it('adds an application list to the built-ins, a same id taking the built-in place', () => {
    const mine = agent('liaison.insights', { pillar: 'INSIGHTS', name: 'Mine' });
    const registry = AgentRegistry.compose(BUILT_IN_AGENTS, [agent('echo'), mine]);
    expect(registry.list().map((each) => each.id)).toEqual(['guide', 'liaison.content', 'liaison.journey', 'liaison.outcomes', 'echo', 'liaison.insights']);
    expect(registry.liaison('INSIGHTS')).toBe(mine);
    expect(registry.guide()?.id).toBe('guide');
  });

  it('replaces the whole set with a function of the defaults', () => {
    const registry = AgentRegistry.compose(BUILT_IN_AGENTS, () => [agent('solo', { kind: 'GUIDE' })]);
    expect(registry.list().map((each) => each.id)).toEqual(['solo']);
    expect(registry.guide()?.id).toBe('solo');
    expect(registry.liaison('CONTENT')).toBeUndefined();
  });

  it.each([['Upper'], ['1digit'], [''], ['has space'], ['x'.repeat(65)]])('refuses the agent id %j', (id) => {
    expect(() => new AgentRegistry([agent(id)])).toThrow(/must match/);
  });

  it('refuses an id registered twice, a bad kind and a bad pillar', () => {
    expect(() => new AgentRegistry([agent('twice'), agent('twice')])).toThrow(/registered twice/);
    expect(() => new AgentRegistry([agent('k', { kind: 'BOSS' as never })])).toThrow(/kind/);
    expect(() => new AgentRegistry([agent('p', { pillar: 'FINANCE' as never })])).toThrow(/pillar/);
  });
});

describe('tool registry', () => {
  const scope = { files: [], history: [], signal: new AbortController().signal };
  const tool = (name: string, inputSchema: Record<string, unknown> = { type: 'object' }): ToolDefinition => ({
    name,
    description: name,
    inputSchema,
    execute: (args) => args,
  });

  it('runs a tool whose input matches its schema, and refuses unknown tools and input that does not', async () => {
    const tools = new ToolRegistry(PLATFORM_TOOLS);
    await expect(tools.execute('files.ingest', { name: 'message' }, { ...scope, history: [{ text: 'a\nb' } as never] })).resolves.toMatchObject({ lines: 2 });
    await expect(tools.execute('files.ingest', { name: 3 }, scope)).rejects.toMatchObject({ code: 'INVALID_TOOL_INPUT' });
    await expect(tools.execute('files.ingest', {}, scope)).rejects.toBeInstanceOf(ToolInputError);
    await expect(tools.execute('nope', {}, scope)).rejects.toMatchObject({ code: 'UNKNOWN_TOOL' });
  });

  it('lists each tool with its JSON Schema, and replaces a default by name', () => {
    const tools = ToolRegistry.compose(PLATFORM_TOOLS, [tool('files.ingest', { type: 'object', properties: {} })]);
    expect(tools.list().find((each) => each.name === 'files.ingest')?.inputSchema).toEqual({ type: 'object', properties: {} });
    expect(tools.list()).toHaveLength(PLATFORM_TOOLS.length);
  });

  it('refuses bad names, a name registered twice and a schema that is not an object', () => {
    expect(() => new ToolRegistry([tool('Bad Name')])).toThrow(/must match/);
    expect(() => new ToolRegistry([tool('twice'), tool('twice')])).toThrow(/registered twice/);
    expect(() => new ToolRegistry([tool('str', { type: 'string' })])).toThrow(/type "object"/);
  });
});

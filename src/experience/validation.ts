/**
 * Checks a send before anything is stored: every limit of the contract, with a message that
 * names the field. Enum values and required fields are already enforced by the GraphQL schema.
 */
import { z } from 'zod';
import type { AttachedFile, Surface } from '../domain/product.ts';
import type { ClientTool } from '../domain/records.ts';
import { badInput } from '../errors.ts';
import type { AgentTarget } from './routing.ts';

export interface InputLimits {
  maxTextLength: number;
  maxContextBytes: number;
  maxContextDepth: number;
  maxClientMessageIdLength: number;
}

export const ACTIVE_RUN_POLICIES = ['ENQUEUE', 'INTERRUPT', 'REJECT'] as const;
export type ActiveRunPolicy = (typeof ACTIVE_RUN_POLICIES)[number];

export interface SendInput {
  text: string;
  surface?: Surface | null;
  target?: AgentTarget | null;
  conversationId?: string | null;
  clientMessageId?: string | null;
  onActiveRun?: ActiveRunPolicy | null;
  projectId?: string | null;
  context?: unknown;
  /** Tools the frontend runs itself, offered for this run. */
  clientTools?: readonly ClientTool[] | null;
}

export interface ValidSend {
  text: string;
  surface: Surface;
  target: AgentTarget | null;
  conversationId: string | null;
  clientMessageId: string | null;
  onActiveRun: ActiveRunPolicy;
  projectId: string | null;
  context: Record<string, unknown> | null;
  clientTools: ClientTool[] | null;
}

/** Ids the service accepts: client-chosen conversation ids and every id it makes itself. */
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function assertId(id: string, field: string): string {
  if (!ID_PATTERN.test(id)) {
    throw badInput(`${field} must be 1 to 64 letters, digits, "_" or "-".`, field);
  }
  return id;
}

export function validateSend(input: SendInput, limits: InputLimits): ValidSend {
  if (input.text.trim() === '') throw badInput('text must not be empty.', 'text');
  if (characterCount(input.text, limits.maxTextLength) > limits.maxTextLength) {
    throw badInput(`text must be at most ${limits.maxTextLength} characters.`, 'text');
  }
  const clientMessageId = input.clientMessageId ?? null;
  if (clientMessageId !== null && (clientMessageId === '' || clientMessageId.length > limits.maxClientMessageIdLength)) {
    throw badInput(`clientMessageId must be 1 to ${limits.maxClientMessageIdLength} characters.`, 'clientMessageId');
  }
  if (input.conversationId != null) assertId(input.conversationId, 'conversationId');
  if (input.projectId != null) assertId(input.projectId, 'projectId');
  return {
    text: input.text,
    surface: input.surface ?? 'HOME',
    target: input.target ?? null,
    conversationId: input.conversationId ?? null,
    clientMessageId,
    onActiveRun: input.onActiveRun ?? 'ENQUEUE',
    projectId: input.projectId ?? null,
    context: validateContext(input.context, limits),
    clientTools: validateClientTools(input.clientTools, limits),
  };
}

/** Names as the models' APIs accept them (OpenAI's rule, the strictest in use). */
const CLIENT_TOOL_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const MAX_CLIENT_TOOLS = 64;

function validateClientTools(tools: readonly ClientTool[] | null | undefined, limits: InputLimits): ClientTool[] | null {
  if (!tools || tools.length === 0) return null;
  if (tools.length > MAX_CLIENT_TOOLS) throw badInput(`At most ${MAX_CLIENT_TOOLS} client tools.`, 'tools');
  const names = new Set<string>();
  for (const tool of tools) {
    if (!CLIENT_TOOL_NAME.test(tool.name) || names.has(tool.name)) {
      throw badInput(`Client tool names must be unique, of letters, digits, "_", "." or "-", starting with a letter: ${JSON.stringify(tool.name)}.`, 'tools');
    }
    names.add(tool.name);
    if (typeof tool.inputSchema !== 'object' || tool.inputSchema === null || tool.inputSchema['type'] !== 'object') {
      throw badInput(`The input schema of client tool ${tool.name} must be a JSON Schema of type "object".`, 'tools');
    }
    try {
      z.fromJSONSchema(tool.inputSchema as z.core.JSONSchema.JSONSchema);
    } catch {
      throw badInput(`The input schema of client tool ${tool.name} is not a JSON Schema.`, 'tools');
    }
  }
  if (Buffer.byteLength(JSON.stringify(tools), 'utf8') > limits.maxContextBytes) {
    throw badInput(`The client tools must be at most ${limits.maxContextBytes} bytes of JSON.`, 'tools');
  }
  return tools.map(({ name, description, inputSchema }) => ({ name, description, inputSchema }));
}

function validateContext(context: unknown, limits: InputLimits): Record<string, unknown> | null {
  if (context === undefined || context === null) return null;
  if (typeof context !== 'object' || Array.isArray(context)) throw badInput('context must be a JSON object.', 'context');
  // Before anything recursive (JSON.stringify) sees it: 20,000 levels would overflow the stack.
  if (nestedDeeperThan(context, limits.maxContextDepth)) {
    throw badInput(`context must be nested at most ${limits.maxContextDepth} levels deep.`, 'context');
  }
  if (Buffer.byteLength(JSON.stringify(context), 'utf8') > limits.maxContextBytes) {
    throw badInput(`context must be at most ${limits.maxContextBytes} bytes of JSON.`, 'context');
  }
  const files = (context as Record<string, unknown>)['files'];
  if (files !== undefined) validateFiles(files);
  return context as Record<string, unknown>;
}

function validateFiles(files: unknown): asserts files is AttachedFile[] {
  const valid =
    Array.isArray(files) &&
    files.every(
      (file: unknown) =>
        typeof file === 'object' &&
        file !== null &&
        typeof (file as AttachedFile).name === 'string' &&
        (file as AttachedFile).name !== '' &&
        typeof (file as AttachedFile).content === 'string',
    );
  if (!valid) throw badInput('context.files must be a list of {name, content} with string values.', 'context.files');
}

/** Whether objects and lists in `value` nest deeper than `maxDepth`, found without recursion. */
function nestedDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [current, depth] = next;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > maxDepth) return true;
    for (const child of Object.values(current)) pending.push([child, depth + 1]);
  }
  return false;
}

/**
 * Characters as people count them (code points, so an emoji is one), without spreading a huge
 * string: anything longer than twice the limit in UTF-16 units is over it either way.
 */
function characterCount(text: string, limit: number): number {
  if (text.length > limit * 2) return text.length;
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

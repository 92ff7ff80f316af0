/** The conversation as a model reads it: its history as user/assistant turns, attached files inlined. */
import type { ModelMessage } from 'ai';
import type { AgentContext } from '../contract.ts';

export function conversationMessages(context: AgentContext): ModelMessage[] {
  const messages: ModelMessage[] = context.history.map((message) =>
    message.role === 'USER' ? { role: 'user', content: message.text } : { role: 'assistant', content: message.text },
  );
  if (context.files.length > 0) {
    const attached = context.files.map((file) => `--- ${file.name} ---\n${file.content}`).join('\n\n');
    messages.push({ role: 'user', content: `Attached files (tools read them by name):\n\n${attached}` });
  }
  return messages;
}

/**
 * The AI SDK's own chat client, as `useChat` runs it, without a UI framework: AbstractChat with
 * its DefaultChatTransport, its messages held in memory as @ai-sdk/react holds them in state.
 */
import { AbstractChat, DefaultChatTransport, type ChatInit, type ChatState, type ChatStatus, type UIMessage } from 'ai';

class MemoryChatState implements ChatState<UIMessage> {
  status: ChatStatus = 'ready';
  error: Error | undefined = undefined;
  messages: UIMessage[] = [];

  pushMessage = (message: UIMessage) => {
    this.messages = [...this.messages, message];
  };

  popMessage = () => {
    this.messages = this.messages.slice(0, -1);
  };

  replaceMessage = (index: number, message: UIMessage) => {
    this.messages = this.messages.map((existing, at) => (at === index ? message : existing));
  };

  snapshot = <T>(thing: T): T => structuredClone(thing);
}

export class TestChat extends AbstractChat<UIMessage> {
  constructor(init: Omit<ChatInit<UIMessage>, 'messages' | 'transport'> & { api: string; token: string; body?: object; fetch?: typeof fetch }) {
    const { api, token, body, fetch, ...rest } = init;
    super({
      ...rest,
      state: new MemoryChatState(),
      transport: new DefaultChatTransport({ api, headers: { authorization: `Bearer ${token}` }, ...(body && { body }), ...(fetch && { fetch }) }),
    });
  }

  /** The assistant's last message (the run's), failing when there is none. */
  get reply(): UIMessage {
    const last = this.messages.at(-1);
    if (last?.role !== 'assistant') throw new Error(`the chat ends with ${JSON.stringify(last)}`);
    return last;
  }
}

/** The message's text parts, joined. */
export const textOf = (message: UIMessage) => message.parts.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('');

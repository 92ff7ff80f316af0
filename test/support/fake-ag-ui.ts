/**
 * A local AG-UI agent server (events encoded with @ag-ui/encoder, as real AG-UI servers do): the
 * outer edge that stands in for an agent running elsewhere. It acts on what the last user message
 * asks for, so that a test (or a gateway process it spawned) steers it through the text alone:
 *   "fail"          RUN_ERROR with code QUOTA_EXCEEDED;  "fail quietly": RUN_ERROR without a code
 *   "status 503"    answer that HTTP error
 *   "cut"           stream a little, then break the connection
 *   "cut when told" stream a little, then break the connection once the test calls `cut()`: the
 *                   client surely read what came before (breaking it at once, the client may
 *                   read the break before the text, and drop the text unread)
 *   "short"         stream a little, then end the response without RUN_FINISHED
 *   "hang"          stream a little, then hold the response open until the client goes
 *   "interrupt"     say a little, then finish with an interrupt outcome (two interrupts); called
 *                   again with `resume`, answer with what it was given
 *   "interrupt mid-tool"  as "interrupt", with a tool call started before it whose result comes
 *                   only once resumed
 *   "client tool"   call the first tool in `tools` (the gateway's client tools); called again with
 *                   that call's result as the last (tool) message, answer with it
 * Anything else: reasoning, a tool call (in the TOOL_CALL_CHUNK shorthand) with its result, and a
 * three-part answer, then RUN_FINISHED.
 */
import type { ServerResponse } from 'node:http';
import { EventType, type BaseEvent, type RunAgentInput } from '@ag-ui/core';
import { EventEncoder } from '@ag-ui/encoder';
import { startRecordingServer, tick, type RecordedRequest } from './recording-server.ts';

export interface FakeAgUi {
  url: string;
  requests: RecordedRequest<RunAgentInput>[];
  nextAbort(): Promise<RecordedRequest<RunAgentInput>>;
  /** Breaks the connection of a "cut when told" run: the one waiting now, or the next one to wait. */
  cut(): void;
  close(): Promise<void>;
}

export async function startFakeAgUi(): Promise<FakeAgUi> {
  // Cuts told before a run waits for one are kept for it: the test may hear the run's text
  // before the run here has started to wait.
  let told = 0;
  const waiting: (() => void)[] = [];
  const untilTold = () =>
    new Promise<void>((resolve) => {
      if (told === 0) return waiting.push(resolve);
      told -= 1;
      resolve();
    });
  const server = await startRecordingServer<RunAgentInput>((input, response) => respond(input, response, untilTold));
  return {
    ...server,
    url: `${server.origin}/agent`,
    cut() {
      const next = waiting.shift();
      if (next) next();
      else told += 1;
    },
  };
}

async function respond(input: RunAgentInput, response: ServerResponse, untilTold: () => Promise<void>): Promise<void> {
  const last = input.messages.at(-1);
  const text = String(last?.content ?? '');
  const status = /\bstatus (\d{3})\b/.exec(text);
  if (status) {
    response.writeHead(Number(status[1]), { 'content-type': 'text/plain' });
    response.end(`status ${status[1]} as asked`);
    return;
  }
  const encoder = new EventEncoder();
  response.writeHead(200, { 'content-type': encoder.getContentType(), 'cache-control': 'no-cache' });
  const send = async (...events: BaseEvent[]) => {
    for (const event of events) {
      if (response.destroyed) return;
      response.write(encoder.encodeSSE(event));
      await tick();
    }
  };
  const { threadId, runId } = input;
  const message = (...deltas: string[]): BaseEvent[] => [
    { type: EventType.TEXT_MESSAGE_START, messageId: 'm1', role: 'assistant' } as BaseEvent,
    ...deltas.map((delta) => ({ type: EventType.TEXT_MESSAGE_CONTENT, messageId: 'm1', delta }) as BaseEvent),
  ];
  await send({ type: EventType.RUN_STARTED, threadId, runId } as BaseEvent);
  const finish = (outcome?: unknown) => ({ type: EventType.RUN_FINISHED, threadId, runId, ...(outcome !== undefined && { outcome }) }) as BaseEvent;
  const end = { type: EventType.TEXT_MESSAGE_END, messageId: 'm1' } as BaseEvent;
  if (input.resume && input.resume.length > 0) {
    const given = input.resume.map((entry) => `${entry.interruptId}=${JSON.stringify(entry.payload)}`).join(', ');
    if (/\bmid-tool\b/.test(text)) await send({ type: EventType.TOOL_CALL_RESULT, messageId: 't2', toolCallId: 'tc-mid', content: '{"found":1}' } as BaseEvent);
    await send(...message('Resumed ', `with ${given}.`), end, finish({ type: 'success' }));
    response.end();
    return;
  }
  if (last?.role === 'tool') {
    await send(...message('The client ', `said ${text}.`), end, finish());
    response.end();
    return;
  }
  if (/\binterrupt\b/.test(text)) {
    const interrupts = [
      {
        id: 'int-order',
        reason: 'confirmation',
        message: 'Place the order?',
        responseSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
      },
      { id: 'int-note', reason: 'input', message: 'Any note for the courier?' },
    ];
    if (/\bmid-tool\b/.test(text)) {
      await send(
        { type: EventType.TOOL_CALL_START, toolCallId: 'tc-mid', toolCallName: 'search' } as BaseEvent,
        { type: EventType.TOOL_CALL_ARGS, toolCallId: 'tc-mid', delta: '{"query":"stock"}' } as BaseEvent,
        { type: EventType.TOOL_CALL_END, toolCallId: 'tc-mid' } as BaseEvent,
      );
    }
    await send(...message('Before I go on, '), end, finish({ type: 'interrupt', interrupts }));
    response.end();
    return;
  }
  const clientTool = input.tools[0];
  if (/\bclient tool\b/.test(text) && clientTool) {
    await send(
      { type: EventType.TOOL_CALL_START, toolCallId: 'ct1', toolCallName: clientTool.name } as BaseEvent,
      { type: EventType.TOOL_CALL_ARGS, toolCallId: 'ct1', delta: '{"precision":"city"}' } as BaseEvent,
      { type: EventType.TOOL_CALL_END, toolCallId: 'ct1' } as BaseEvent,
      finish(),
    );
    response.end();
    return;
  }
  if (/\bfail\b/.test(text)) {
    await send({ type: EventType.RUN_ERROR, message: 'The remote quota is used up.', ...(!/quietly/.test(text) && { code: 'QUOTA_EXCEEDED' }) } as BaseEvent);
    response.end();
    return;
  }
  if (/\b(cut|short|hang)\b/.test(text)) {
    await send(...message('This answer ', 'will not '));
    if (/\bcut when told\b/.test(text)) await untilTold();
    if (/\bcut\b/.test(text)) response.socket?.destroy();
    if (/\bshort\b/.test(text)) response.end();
    return; // hang: held open until the client goes away
  }
  await send(
    { type: EventType.REASONING_MESSAGE_START, messageId: 'r1', role: 'reasoning' } as BaseEvent,
    { type: EventType.REASONING_MESSAGE_CONTENT, messageId: 'r1', delta: 'Looking it ' } as BaseEvent,
    { type: EventType.REASONING_MESSAGE_CONTENT, messageId: 'r1', delta: 'up.' } as BaseEvent,
    { type: EventType.REASONING_MESSAGE_END, messageId: 'r1' } as BaseEvent,
    // The chunk shorthand: START, ARGS and END implied.
    { type: EventType.TOOL_CALL_CHUNK, toolCallId: 'tc1', toolCallName: 'search', delta: '{"query":' } as BaseEvent,
    { type: EventType.TOOL_CALL_CHUNK, toolCallId: 'tc1', delta: '"sales"}' } as BaseEvent,
    { type: EventType.TOOL_CALL_RESULT, messageId: 't1', toolCallId: 'tc1', content: '{"hits":3}' } as BaseEvent,
    ...message('Remote ', 'answer ', `to ${input.messages.length} message(s).`),
    { type: EventType.TEXT_MESSAGE_END, messageId: 'm1' } as BaseEvent,
    { type: EventType.RUN_FINISHED, threadId, runId } as BaseEvent,
  );
  response.end();
}

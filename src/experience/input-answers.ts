/**
 * Whether an answer fits the request it answers, checked before anything is stored: an
 * approval needs `approved`, a question an answer among its options and matching its schema, a
 * client tool its result. What does not fit is BAD_USER_INPUT, naming the field.
 */
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { badInput } from '../errors.ts';
import type { InputRequestRecord, InputResponse } from '../domain/records.ts';

export interface AnswerInput {
  requestId: string;
  approved?: boolean | null;
  answer?: unknown;
  comment?: string | null;
}

export interface AnswerLimits {
  /** Largest answer, in bytes of JSON (the limit of a send's context). */
  maxAnswerBytes: number;
  /** Longest comment, in characters (the limit of a message's text). */
  maxCommentLength: number;
}

/** The response `input` makes for `request`, by `userId` now; throws BAD_USER_INPUT when it does not fit. */
export function responseFor(request: InputRequestRecord, input: AnswerInput, userId: string, limits: AnswerLimits): InputResponse {
  const approved = input.approved ?? null;
  const answer = input.answer === undefined ? null : input.answer;
  const comment = input.comment ?? null;
  if (comment !== null && comment.length > limits.maxCommentLength) {
    throw badInput(`comment must be at most ${limits.maxCommentLength} characters.`, 'comment');
  }
  if (Buffer.byteLength(JSON.stringify(answer) ?? 'null') > limits.maxAnswerBytes) {
    throw badInput(`answer must be at most ${limits.maxAnswerBytes} bytes of JSON.`, 'answer');
  }
  if (request.kind === 'APPROVAL') {
    if (approved === null) throw badInput('An approval is answered with approved: true or false.', 'approved');
    if (answer !== null) throw badInput('An approval takes no answer; give a comment instead.', 'answer');
  } else {
    if (approved !== null) throw badInput(`A ${request.kind === 'QUESTION' ? 'question' : 'client tool'} is answered with answer, not approved.`, 'approved');
    if (input.answer === undefined)
      throw badInput(request.kind === 'QUESTION' ? 'The question needs an answer.' : 'The client tool needs its result as answer.', 'answer');
  }
  if (request.options && !request.options.includes(answer as string)) {
    throw badInput(`answer must be one of: ${request.options.join(', ')}.`, 'answer');
  }
  if (request.answerSchema) {
    const checked = z.fromJSONSchema(request.answerSchema as z.core.JSONSchema.JSONSchema).safeParse(answer);
    if (!checked.success) {
      const problems = checked.error.issues.map((issue) => `${issue.path.join('.') || '(answer)'}: ${issue.message}`);
      throw badInput(`answer does not match the request's answerSchema: ${problems.join('; ')}`, 'answer');
    }
  }
  return { approved, answer, comment, respondedBy: userId, respondedAt: new Date().toISOString() };
}

/** Whether `input` repeats the response the request already has (by the same person): answered again, it is returned unchanged. */
export function repeats(request: InputRequestRecord, input: AnswerInput, userId: string): boolean {
  const { response } = request;
  if (request.status !== 'ANSWERED' || !response || response.respondedBy !== userId) return false;
  return (
    response.approved === (input.approved ?? null) &&
    isDeepStrictEqual(response.answer, input.answer === undefined ? null : input.answer) &&
    response.comment === (input.comment ?? null)
  );
}

/** What a send must keep to, as the gateway serving this page is configured (GET /limits). */
export interface SendLimits {
  maxTextLength: number;
  maxContextBytes: number;
}

export async function fetchSendLimits(): Promise<SendLimits> {
  const response = await fetch('/limits');
  if (!response.ok) throw new Error(`GET /limits answered ${response.status}`);
  return (await response.json()) as SendLimits;
}

/**
 * How many bytes of files a send may attach: `context` as a whole must fit maxContextBytes, and
 * the files' JSON (names, quotes, escapes) takes more than their content; 1/16 is left for that.
 */
export function attachableBytes(limits: SendLimits): number {
  return Math.floor((limits.maxContextBytes * 15) / 16);
}

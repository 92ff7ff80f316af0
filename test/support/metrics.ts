/**
 * Reads one metric of the gateway's Prometheus metrics, as a scraper would: the sample of
 * `name`, or with `labels` the samples that carry them, summed (all of its samples without).
 */
export async function metricValue(baseUrl: string, name: string, labels?: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const wanted = Object.entries(labels ?? {}).map(([label, value]) => `${label}="${value}"`);
  const samples = text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .filter((line) => wanted.every((pair) => line.slice(0, line.lastIndexOf(' ')).includes(pair)));
  // A labelled metric has no samples until its first labels are used.
  if (samples.length === 0 && !text.includes(`# TYPE ${name} `)) throw new Error(`no metric ${name}${wanted.length ? ` with ${wanted.join(',')}` : ''}`);
  return samples.reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

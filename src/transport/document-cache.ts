/**
 * The parse and validation cache of yoga, bounded by size rather than by count: yoga keeps 1,024
 * documents by default, and 1,024 documents of a thousand aliases each exhaust the heap. A
 * document's source length stands for its size (its syntax tree grows with it); validation
 * results are held by document, so they go when their document goes.
 */
import type { DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { Metrics } from '../metrics.ts';

export function documentCaches(maxBytes: number, metrics: Metrics) {
  const bySource = <T extends {}>() =>
    new LRUCache<string, T>({ maxSize: maxBytes, sizeCalculation: (_value, source) => Math.max(1, source.length) });
  const documentCache = bySource<DocumentNode>();
  metrics.observe('agent_gateway_document_cache_bytes', () => documentCache.calculatedSize);
  return { documentCache, errorCache: bySource<object>(), validationCache: true };
}

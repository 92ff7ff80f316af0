/**
 * The parse and validation cache of yoga, bounded by size rather than by count: yoga keeps 1,024
 * documents by default, and 1,024 documents of a thousand aliases each exhaust the heap. A
 * document's source length stands for its size (its syntax tree grows with it). Refused
 * documents (a syntax error, too many tokens) are kept too, keyed by their full text so that a
 * repeat is refused without parsing it again: they share the one budget with parsed documents,
 * else a stream of distinct refused documents would be held in a cache of their own, unbounded
 * by bytes. Validation results are held by document, so they go when their document goes.
 */
import type { DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { Metrics } from '../../metrics.ts';

/** The part of an LRU cache that yoga uses. */
interface SourceCache<T> {
  get(source: string): T | undefined;
  set(source: string, value: T): void;
}

export function documentCaches(maxBytes: number, metrics: Metrics) {
  const bySource = new LRUCache<string, DocumentNode | Error>({
    maxSize: maxBytes,
    sizeCalculation: (_value, source) => Math.max(1, source.length),
  });
  metrics.observe('agent_gateway_document_cache_bytes', () => bySource.calculatedSize);
  /** Yoga looks up parsed documents and refusals separately; each sees only its own kind. */
  const view = <T extends DocumentNode | Error>(isKind: (value: DocumentNode | Error) => value is T): SourceCache<T> => ({
    get: (source) => {
      const value = bySource.get(source);
      return value !== undefined && isKind(value) ? value : undefined;
    },
    set: (source, value) => void bySource.set(source, value),
  });
  return {
    documentCache: view((value): value is DocumentNode => !(value instanceof Error)),
    errorCache: view((value): value is Error => value instanceof Error),
    validationCache: true,
  };
}

/**
 * Listeners grouped by a key (a conversation), each key's as an array that is replaced on every
 * change rather than a Set per key.
 *
 * Why arrays: most conversations have one watcher, so a process holds one listener for them, and
 * an array of one costs about 56 bytes of heap against a Set's 150 or so. An idle subscription
 * passes through two such places (its log's listeners and its deletion watchers), so this is
 * about 200 bytes off every watched conversation.
 *
 * Why replaced, not changed: a listener may add or remove listeners while it is being told of
 * something, and the array being walked must not shift under the walk. Each change copies the
 * key's listeners instead, which costs little at the few a key has (at a thousand, a copy of a
 * thousand pointers per subscriber joining or leaving).
 */
const NONE: readonly never[] = Object.freeze([]);

export class ListenersByKey<Listener> {
  private readonly byKey = new Map<string, readonly Listener[]>();

  /** The key's listeners as they are now; the array is never changed afterwards. */
  of(key: string): readonly Listener[] {
    return this.byKey.get(key) ?? NONE;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  keys(): IterableIterator<string> {
    return this.byKey.keys();
  }

  /** Adds `listener` to the key's; answers whether it is the key's first. */
  add(key: string, listener: Listener): boolean {
    const current = this.byKey.get(key);
    this.byKey.set(key, current ? [...current, listener] : [listener]);
    return current === undefined;
  }

  /**
   * Removes `listener` from the key's; answers whether that left the key with none. A listener
   * that is not there (removed already, or before a `clear`) changes nothing and answers false.
   */
  remove(key: string, listener: Listener): boolean {
    const current = this.byKey.get(key);
    const at = current ? current.indexOf(listener) : -1;
    if (at < 0) return false;
    if (current!.length === 1) {
      this.byKey.delete(key);
      return true;
    }
    this.byKey.set(key, current!.toSpliced(at, 1));
    return false;
  }

  clear(): void {
    this.byKey.clear();
  }
}

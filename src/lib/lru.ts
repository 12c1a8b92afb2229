// A bounded map that forgets the least recently used entry first: the statement cache of the SQLite client, the
// exact read caches, the verified-token memo and the trending rankings. Why not the lru-cache package: a Map keeps
// insertion order, so "used" is delete-and-insert and "least recently used" is the first key; that is all these
// caches need (no TTLs, sizes by weight or async fetching), it is on the hot path of every query and request, and
// it keeps the single binary one dependency smaller.
export class Lru<K, V> {
  readonly #entries = new Map<K, V>();

  /** At most `max` entries (at least 1). */
  constructor(readonly max: number) {
    if (!(max >= 1)) throw new RangeError(`an LRU holds at least one entry, not ${max}`);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Whether `key` is held; does not count as a use. */
  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** The value of `key` (undefined when not held), which becomes the most recently used. */
  get(key: K): V | undefined {
    if (!this.#entries.has(key)) return undefined;
    const value = this.#entries.get(key) as V;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  /** Keeps `value` as the most recently used; beyond `max` the least recently used entry goes. */
  set(key: K, value: V): this {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value as K);
    return this;
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}

// Rows the public hot paths read on every request and that change rarely:
// postback configurations by token, campaigns by slug. A change on this node
// invalidates at once; on other nodes (PostgreSQL, several nodes) an entry
// lives at most TTL_MS.

const TTL_MS = 2_000;
const MAX_ENTRIES = 10_000;

export class LookupCache<T> {
  private readonly entries = new Map<string, { value: T | null; at: number }>();
  /**
   * Bumped by every invalidation: a load that began before one may have read
   * the row before the change (PostgreSQL answers after a round trip), so it
   * answers its caller but is not kept.
   */
  private generation = 0;

  constructor(
    private readonly load: (key: string) => Promise<T | null>,
    private readonly now: () => number,
  ) {}

  /**
   * The row for key (null: it does not exist). A cached answer comes back as
   * it is, not in a promise, so a hot path can skip an await; only a load
   * returns a promise.
   */
  find(key: string): T | null | Promise<T | null> {
    const at = this.now();
    const hit = this.entries.get(key);
    if (hit && at - hit.at < TTL_MS) return hit.value;
    return this.loadAndKeep(key, at);
  }

  /** The cached answer for key while fresh, without loading; undefined when there is none. */
  cached(key: string): T | null | undefined {
    const hit = this.entries.get(key);
    return hit && this.now() - hit.at < TTL_MS ? hit.value : undefined;
  }

  private async loadAndKeep(key: string, at: number): Promise<T | null> {
    const generation = this.generation;
    const value = await this.load(key);
    if (generation !== this.generation) return value;
    // Bounded: a flood of made-up keys cannot grow it without limit.
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(key, { value, at });
    return value;
  }

  invalidate(...keys: string[]): void {
    this.generation++;
    for (const key of keys) this.entries.delete(key);
  }
}

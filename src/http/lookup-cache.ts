// Rows the public hot paths read on every request and that change rarely:
// postback configurations by token, campaigns by slug. A change on this node
// invalidates at once; on other nodes (PostgreSQL, several nodes) an entry
// lives at most TTL_MS.

const TTL_MS = 2_000;
const MAX_ENTRIES = 10_000;

export class LookupCache<T> {
  private readonly entries = new Map<string, { value: T | null; at: number }>();

  constructor(
    private readonly load: (key: string) => Promise<T | null>,
    private readonly now: () => number,
  ) {}

  /**
   * The cached value (null: known not to exist), or undefined when it has to
   * be loaded with find(). Lets a hot path answer a hit without a promise.
   */
  peek(key: string): T | null | undefined {
    const hit = this.entries.get(key);
    return hit && this.now() - hit.at < TTL_MS ? hit.value : undefined;
  }

  async find(key: string): Promise<T | null> {
    const at = this.now();
    const hit = this.entries.get(key);
    if (hit && at - hit.at < TTL_MS) return hit.value;
    const value = await this.load(key);
    // Bounded: a flood of made-up keys cannot grow it without limit.
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(key, { value, at });
    return value;
  }

  invalidate(...keys: string[]): void {
    for (const key of keys) this.entries.delete(key);
  }
}

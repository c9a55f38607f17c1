// Postback configurations by token, for the inbound path: read on every
// postback, changed rarely. A change on this node invalidates at once; on
// other nodes (PostgreSQL, several nodes) an entry lives at most TTL_MS.
import type { PostbackConfig, Store } from '../store/store.js';

const TTL_MS = 2_000;
const MAX_ENTRIES = 10_000;

export class PostbackCache {
  private readonly entries = new Map<string, { postback: PostbackConfig | null; at: number }>();

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  async find(token: string): Promise<PostbackConfig | null> {
    const at = this.now();
    const hit = this.entries.get(token);
    if (hit && at - hit.at < TTL_MS) return hit.postback;
    const postback = await this.store.findPostbackByToken(token);
    // Bounded: a flood of made-up tokens cannot grow it without limit.
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(token, { postback, at });
    return postback;
  }

  invalidate(token: string): void {
    this.entries.delete(token);
  }
}

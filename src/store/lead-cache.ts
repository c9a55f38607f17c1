// clickid → lead, for the postback path. Postbacks fill it, clicks do not: a
// lead that has had one postback tends to get more, while a click's lead
// usually waits minutes for its first. A lead's id, workspace and campaign
// never change once written and leads are never deleted, so an entry needs no
// invalidation. It is added only once the transaction that read the lead has
// committed: a postback can see a lead its own group wrote, and if that group
// rolls back the lead is never served. Absent clickids are not cached: the
// click may commit a moment later.
//
// Keyed by the clickid alone, which is unique across workspaces (the leads
// table's UNIQUE constraint); an entry keeps its workspace and answers only
// that one. A key built from the workspace and the clickid cost a postback a
// new string to join, flatten and hash before each lookup: in the store
// benchmark that was 18.1 µs of CPU per postback against 17.1 for this,
// seven alternated runs.

export interface CachedLead {
  id: number;
  campaignId: number | null;
}

interface Entry extends CachedLead {
  workspaceId: number;
}

/** Entries kept; the oldest go first. About 15 MB at this size. */
export const LEAD_CACHE_ENTRIES = 100_000;

export class LeadCache {
  /**
   * Two generations: new entries go to `young`; when it is full it becomes
   * `old` and the previous `old` is dropped. Bounded at `limit`, O(1) per
   * entry (evicting from the front of one big Map makes V8 skip ever more
   * deleted slots).
   */
  private young = new Map<string, Entry>();
  private old = new Map<string, Entry>();
  /** Seen by the batch now running; added when it commits. */
  private staged: Array<[string, Entry]> = [];

  constructor(private readonly limit = LEAD_CACHE_ENTRIES) {}

  get(workspaceId: number, clickid: string): CachedLead | undefined {
    const entry = this.young.get(clickid) ?? this.old.get(clickid);
    return entry?.workspaceId === workspaceId ? entry : undefined;
  }

  /** Remembers a lead read in the open transaction. */
  stage(workspaceId: number, clickid: string, lead: CachedLead): void {
    this.staged.push([clickid, { id: lead.id, campaignId: lead.campaignId, workspaceId }]);
  }

  /** How much is staged: a write that rolls back alone rolls back to here. */
  mark(): number {
    return this.staged.length;
  }

  rollbackTo(mark: number): void {
    this.staged.length = mark;
  }

  commit(): void {
    for (const [k, lead] of this.staged) {
      if (this.young.size >= this.limit / 2) {
        this.old = this.young;
        this.young = new Map();
      }
      this.young.set(k, lead);
    }
    this.staged = [];
  }

  discard(): void {
    this.staged = [];
  }
}

// The pace of group commit on PostgreSQL. Writes that arrive in one turn of
// the event loop go together in a group; at most `maxInFlight` groups run at
// once, and the writes that arrive meanwhile wait and form the next, larger
// group: each group costs the database its round trips, statement starts and
// durable COMMIT whatever its size. A write waits at most `waitMs` for a slot:
// then another group starts anyway, so a group that hangs (the database
// unreachable, until the connect or statement timeout) does not hold up every
// write behind it.

export interface PacerOptions {
  /** The most writes one group takes. */
  maxGroup: number;
  /** Groups running at once, unless writes have waited `waitMs` for a slot. */
  maxInFlight: number;
  waitMs: number;
}

export class GroupPacer<T> {
  private pending: T[] = [];
  private inFlight = 0;
  private scheduled = false;
  private overdue: NodeJS.Timeout | null = null;

  /** `run` settles when the group is done; it answers each write itself, and never rejects. */
  constructor(
    private readonly run: (group: T[]) => Promise<void>,
    private readonly options: PacerOptions,
  ) {}

  push(write: T): void {
    this.pending.push(write);
    this.schedule();
  }

  /** Groups running now (for tests). */
  get running(): number {
    return this.inFlight;
  }

  private schedule(): void {
    if (this.pending.length === 0) return;
    if (this.inFlight < this.options.maxInFlight) {
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
      return;
    }
    this.overdue ??= setTimeout(this.flushOverdue, this.options.waitMs);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    while (this.pending.length > 0 && this.inFlight < this.options.maxInFlight) this.start();
    this.schedule();
  };

  private readonly flushOverdue = (): void => {
    this.overdue = null;
    this.start();
    this.schedule();
  };

  private start(): void {
    if (this.overdue) {
      clearTimeout(this.overdue);
      this.overdue = null;
    }
    const group = this.pending.splice(0, this.options.maxGroup);
    if (group.length === 0) return;
    this.inFlight++;
    const done = () => {
      this.inFlight--;
      this.schedule();
    };
    this.run(group).then(done, done);
  }
}

/**
 * Lets at most `perWindow` lines through per window and counts the rest, so a
 * flood of calls to unknown tokens cannot flood the server log.
 */
export class LogThrottle {
  private windowStart = 0;
  private passed = 0;
  private suppressed = 0;

  constructor(
    private readonly perWindow = 10,
    private readonly windowMs = 60_000,
  ) {}

  /** null: stay quiet; a number: log now, mentioning how many were held back. */
  take(now: number): number | null {
    if (now - this.windowStart >= this.windowMs) {
      const held = this.suppressed;
      this.windowStart = now;
      this.passed = 1;
      this.suppressed = 0;
      return held;
    }
    if (this.passed < this.perWindow) {
      this.passed++;
      return 0;
    }
    this.suppressed++;
    return null;
  }
}

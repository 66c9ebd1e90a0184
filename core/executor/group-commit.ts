interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: items submitted while a flush is in flight are written together by the next
 * flush. One item alone is flushed at once, so an idle system pays no batching delay, and a
 * busy one pays one commit per batch instead of one per item.
 */
export class GroupCommit<I, O> {
  private pending: Pending<I, O>[] = [];
  private running = false;

  /**
   * @param flush writes a batch; returns one result per item, in order.
   * @param maxBatch largest batch per flush. @defaultValue 500
   */
  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 500,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        // Let items submitted in the same turn of the event loop join this batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  /** Resolves once nothing is pending or in flight. */
  async idle(): Promise<void> {
    while (this.running || this.pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.maxBatch);
        try {
          const results = await this.flush(batch.map((p) => p.item));
          batch.forEach((p, index) => p.resolve(results[index] as O));
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      this.running = false;
    }
  }
}

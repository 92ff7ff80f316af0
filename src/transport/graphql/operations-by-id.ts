/**
 * A connection's operations by id, as a Map would keep them. Most connections carry one
 * subscription for as long as they are open, and a Map holding one entry costs about 180 bytes
 * (its hash table is made for four): one operation is kept in two fields (the first, or the next
 * to come once they are free), and a Map is made only for the operations beside it.
 */
export class OperationsById<Operation> {
  private firstId: string | undefined = undefined;
  private first: Operation | undefined = undefined;
  private others: Map<string, Operation> | undefined = undefined;

  get size(): number {
    return (this.firstId === undefined ? 0 : 1) + (this.others?.size ?? 0);
  }

  has(id: string): boolean {
    return id === this.firstId || (this.others?.has(id) ?? false);
  }

  get(id: string): Operation | undefined {
    return id === this.firstId ? this.first : this.others?.get(id);
  }

  set(id: string, operation: Operation): void {
    if (id === this.firstId || (this.firstId === undefined && !this.others?.has(id))) {
      this.firstId = id;
      this.first = operation;
    } else {
      (this.others ??= new Map()).set(id, operation);
    }
  }

  delete(id: string): boolean {
    if (id !== this.firstId) return this.others?.delete(id) ?? false;
    this.firstId = undefined;
    this.first = undefined;
    return true;
  }

  /** Every operation, as an array taken now: clearing or changing them afterwards leaves it as it is. */
  values(): Operation[] {
    const all = this.others ? [...this.others.values()] : [];
    if (this.firstId !== undefined) all.push(this.first as Operation);
    return all;
  }

  clear(): void {
    this.firstId = undefined;
    this.first = undefined;
    this.others = undefined;
  }
}

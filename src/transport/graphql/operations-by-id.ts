/**
 * A connection's operations by id, as a Map would keep them. Most connections carry one
 * subscription for as long as they are open, and a Map holding one entry costs about 180 bytes
 * (its hash table is made for four): the first operation is kept in two fields, and a Map is
 * made only for the operations beside it.
 */
export class OperationsById<Operation> {
  private onlyId: string | undefined = undefined;
  private only: Operation | undefined = undefined;
  private others: Map<string, Operation> | undefined = undefined;

  get size(): number {
    return (this.onlyId === undefined ? 0 : 1) + (this.others?.size ?? 0);
  }

  has(id: string): boolean {
    return id === this.onlyId || (this.others?.has(id) ?? false);
  }

  get(id: string): Operation | undefined {
    return id === this.onlyId ? this.only : this.others?.get(id);
  }

  set(id: string, operation: Operation): void {
    if (id === this.onlyId || (this.onlyId === undefined && !this.others?.has(id))) {
      this.onlyId = id;
      this.only = operation;
    } else {
      (this.others ??= new Map()).set(id, operation);
    }
  }

  delete(id: string): boolean {
    if (id !== this.onlyId) return this.others?.delete(id) ?? false;
    this.onlyId = undefined;
    this.only = undefined;
    return true;
  }

  /** Every operation, as an array taken now: clearing or changing them afterwards leaves it as it is. */
  values(): Operation[] {
    const all = this.others ? [...this.others.values()] : [];
    if (this.onlyId !== undefined) all.push(this.only as Operation);
    return all;
  }

  clear(): void {
    this.onlyId = undefined;
    this.only = undefined;
    this.others = undefined;
  }
}

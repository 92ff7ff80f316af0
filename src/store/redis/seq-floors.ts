import { LRUCache } from 'lru-cache';

/**
 * The newest seq this process was given, and in which epoch, for each conversation it appended
 * to lately. Seqs only grow within a log's epoch, so an append given one at or below it has met
 * a log that went back (Redis lost its latest writes: a restart from an older snapshot, a
 * failover to a replica without them); the append script then numbers on past it under a new
 * epoch (see ./event-log.ts). Bounded: the conversations appended to least lately are forgotten.
 */
export interface SeqFloor {
  epoch: string;
  seq: number;
}

/** A floor as the append scripts take it: its epoch and seq, or '' and 0 when there is none. */
export function floorArgs(floor: SeqFloor | undefined): [string, number] {
  return [floor?.epoch ?? '', floor?.seq ?? 0];
}

export class SeqFloors {
  private readonly floors: LRUCache<string, SeqFloor>;

  constructor(capacity: number) {
    this.floors = new LRUCache({ max: capacity });
  }

  get(conversationId: string): SeqFloor | undefined {
    return this.floors.get(conversationId);
  }

  /** Records the newest seq given (in `epoch`); the conversation becomes the one appended to most lately. */
  record(conversationId: string, epoch: string, seq: number): void {
    this.floors.set(conversationId, { epoch, seq });
  }
}

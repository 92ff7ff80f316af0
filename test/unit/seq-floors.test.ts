import { describe, expect, it } from 'vitest';
import { SeqFloors } from '../../src/store/redis/seq-floors.ts';

describe('the seqs an appender was given lately', () => {
  it('keeps the newest per conversation, and forgets the conversations appended to least lately past its capacity', () => {
    const floors = new SeqFloors(2);
    floors.record('a', 'e1', 3);
    floors.record('b', 'e1', 7);
    floors.record('a', 'e2', 4);
    floors.record('c', 'e1', 1);
    expect(floors.get('a')).toEqual({ epoch: 'e2', seq: 4 });
    expect(floors.get('b')).toBeUndefined();
    expect(floors.get('c')).toEqual({ epoch: 'e1', seq: 1 });
  });
});

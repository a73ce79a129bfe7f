/**
 * Which bytes of a read the server's content chunks have covered so far, as
 * sorted, merged [start, end) intervals. Servers nearly always answer in
 * order, so the common case appends to (or extends) the last interval in O(1).
 */
export class ReadCoverage {
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];
  #coveredBytes = 0;

  /** Bytes covered so far. */
  get coveredBytes(): number {
    return this.#coveredBytes;
  }

  /** Records [start, end); returns false (recording nothing) when it overlaps what is covered. */
  add(start: number, end: number): boolean {
    const n = this.#starts.length;
    const lastEnd = this.#ends[n - 1];
    if (lastEnd === undefined || start >= lastEnd) {
      if (lastEnd === start) this.#ends[n - 1] = end;
      else {
        this.#starts.push(start);
        this.#ends.push(end);
      }
      this.#coveredBytes += end - start;
      return true;
    }
    // Out of order: find the first interval ending after `start`.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#ends[mid] as number) <= start) lo = mid + 1;
      else hi = mid;
    }
    if ((this.#starts[lo] as number) < end) return false;
    const joinsPrev = lo > 0 && this.#ends[lo - 1] === start;
    const joinsNext = this.#starts[lo] === end;
    if (joinsPrev && joinsNext) {
      this.#ends[lo - 1] = this.#ends[lo] as number;
      this.#starts.splice(lo, 1);
      this.#ends.splice(lo, 1);
    } else if (joinsPrev) this.#ends[lo - 1] = end;
    else if (joinsNext) this.#starts[lo] = start;
    else {
      this.#starts.splice(lo, 0, start);
      this.#ends.splice(lo, 0, end);
    }
    this.#coveredBytes += end - start;
    return true;
  }
}

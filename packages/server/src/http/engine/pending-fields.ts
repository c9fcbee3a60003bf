type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/**
 * Header fields parsed but not yet made strings: offsets into the buffer they were read from (name start
 * and end, value start and end) and their shared name when they have one. Their strings are then cut from
 * one string of the whole run of lines: one call into C++ per head instead of two per field (V8 makes a
 * JavaScript substring far cheaper than a string from Buffer bytes). The offsets die with their buffer,
 * so the parser makes the strings before it leaves that buffer.
 */
export class PendingFields {
  readonly #offsets: number[] = [];
  readonly #names: (string | undefined)[] = [];
  #count = 0;

  /** Records one field; `name` is its shared lower-case name, or undefined to cut it from the bytes. */
  add(name: string | undefined, start: number, nameEnd: number, valueStart: number, valueEnd: number): void {
    const field = this.#count++;
    this.#names[field] = name;
    const offsets = this.#offsets;
    offsets[field * 4] = start;
    offsets[field * 4 + 1] = nameEnd;
    offsets[field * 4 + 2] = valueStart;
    offsets[field * 4 + 3] = valueEnd;
  }

  /** Forgets the recorded fields (the request was refused). */
  clear(): void {
    this.#count = 0;
  }

  /** Appends the recorded fields to `headers` as `[name, value, ...]`, read from `buf`, and forgets them. */
  moveTo(headers: string[], buf: Buffer): void {
    const count = this.#count;
    if (count === 0) return;
    this.#count = 0;
    const offsets = this.#offsets;
    const names = this.#names;
    const from = offsets[0] as number;
    const text = (buf as Latin1Buffer).latin1Slice(from, offsets[count * 4 - 1] as number);
    let length = headers.length;
    for (let field = 0; field < count; field++) {
      const at = field * 4;
      const valueStart = (offsets[at + 2] as number) - from;
      const valueEnd = (offsets[at + 3] as number) - from;
      // Stores at the end rather than push(): V8 inlines them, and calls push's builtin for two values.
      headers[length++] =
        names[field] ??
        // V8's toLowerCase returns the string itself when it has no upper-case letter.
        text.slice((offsets[at] as number) - from, (offsets[at + 1] as number) - from).toLowerCase();
      headers[length++] = valueEnd === valueStart ? '' : text.slice(valueStart, valueEnd);
    }
  }
}

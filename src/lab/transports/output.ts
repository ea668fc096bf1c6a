/**
 * Collects a stream's output as bytes and decodes it once at the end, so a multi-byte
 * character split across chunks is never mangled.
 */
export class OutputBuffer {
  private readonly chunks: Buffer[] = [];

  push = (chunk: Buffer | string): void => {
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  };

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * What every benchmark prints and how: `# …` lines that explain, `BENCH <name> <number>` lines
 * that report, medians of interleaved rounds, and free loopback ports for the servers it starts.
 *
 * @module
 */
import { createServer } from 'node:net';

/** Print an explanation line (`# text`). */
export function note(text) {
  console.log(`# ${text}`);
}

/** Print one figure, after its explanation when there is one. */
export function print(name, value, explanation) {
  if (explanation) note(explanation);
  console.log(`BENCH ${name} ${value}`);
}

/** The median of `values` (the upper one of an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** A TCP port free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './net.js';

/** The entry point of `@modelcontextprotocol/server-everything`. */
export const EVERYTHING = fileURLToPath(
  new URL(
    '../../node_modules/@modelcontextprotocol/server-everything/dist/index.js',
    import.meta.url,
  ),
);

/** A server-everything process in one of its HTTP modes. */
export interface EverythingServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Start server-everything in an HTTP mode on a free port and wait (at most `ms`) for the line it
 * prints on stderr once it listens.
 */
export async function startEverything(
  mode: 'sse' | 'streamableHttp',
  ms = 10_000,
): Promise<EverythingServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [EVERYTHING, mode], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stop = () => stopProcess(child);
  let stderr = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server-everything ${mode} did not listen within ${ms} ms`)),
        ms,
      );
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        stderr += chunk;
        if (/listening on port|running on port/i.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server-everything ${mode} exited with ${code}: ${stderr}`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { origin: `http://127.0.0.1:${port}`, port, stop };
}

/** Terminate `child` and wait for it to exit. */
export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

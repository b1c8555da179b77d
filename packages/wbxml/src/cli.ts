#!/usr/bin/env node
import { runCommandLine } from './command-line.js';

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const code = await runCommandLine(process.argv.slice(2), {
  readStdin,
  writeStdout: (data) => process.stdout.write(data),
  writeStderr: (text) => process.stderr.write(text),
});
process.exitCode = code;

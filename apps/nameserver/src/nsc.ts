#!/usr/bin/env node
// The cinder-nsc executable: runs the name server control tool on this process's arguments.
import { createInterface } from 'node:readline/promises';
import { runNsc } from './nsc-cli.js';

const prompt = process.stdin.isTTY
  ? async (question: string): Promise<string> => {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    }
  : undefined;

process.exitCode = await runNsc(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  prompt,
  env: process.env,
});

#!/usr/bin/env node
// A committed entry so package managers can link the command before the first build; the code is in dist/.
await import('../dist/loadgen/cli.js');

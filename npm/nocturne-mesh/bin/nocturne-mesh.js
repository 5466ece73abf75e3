#!/usr/bin/env node
// nocturne-mesh: the `nocturne` binary's agent mesh, for agents configured
// the original release's way (`npx nocturne-mesh`). It adds nothing of its
// own: `nocturne-mesh [--flags]` is `nocturne agent mcp [--flags]` (the MCP
// server on stdio), and `nocturne-mesh <command> …` is
// `nocturne agent <command> …` (setup, start, status, config, …).
//
// The binary is `nocturne` on the PATH, or NOCTURNE_BIN. Its standard
// streams are handed over as they are, so stdout stays pure JSON-RPC.
'use strict';

const { spawn } = require('node:child_process');

const binary = process.env.NOCTURNE_BIN || 'nocturne';
const given = process.argv.slice(2);
const args = given.length === 0 || given[0].startsWith('-') ? ['mcp', ...given] : given;

const child = spawn(binary, ['agent', ...args], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (error) => {
  process.stderr.write(
    `nocturne-mesh: cannot run ${binary}: ${error.message} (install Nocturne, or set NOCTURNE_BIN)\n`,
  );
  process.exit(127);
});
child.on('exit', (code, signal) => {
  process.exit(code === null ? (signal ? 1 : 0) : code);
});

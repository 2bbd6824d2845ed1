#!/usr/bin/env node
// A committed launcher, so package managers can link the bin before dist/ is built.
import { enableCompileCache } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';

// V8's compiled code for the CLI's modules, kept between runs: about 15 ms of every command's
// start. In the user's own cache directory, not Node's default in the shared temp directory: a
// code cache is code this process would run. $NODE_COMPILE_CACHE, when set, has Node do it instead.
if (!process.env.NODE_COMPILE_CACHE) enableCompileCache?.(join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'airlock', 'compile-cache'));

// Node 24's V8 can abort a process whose wasm code GC races a plugin worker's wrapper tier-up
// (nodejs/node#64500; see docs/ARCHITECTURE.md). Set before any plugin is compiled.
if (process.versions.node.startsWith('24.')) setFlagsFromString('--no-wasm-code-gc');
const { main } = await import('../dist/index.js');

process.exitCode = await main(process.argv.slice(2));

#!/usr/bin/env node
// A committed launcher, so package managers can link the bin before dist/ is built.
import { enableCompileCache } from 'node:module';
import { setFlagsFromString } from 'node:v8';

// V8's compiled code for the CLI's modules, kept between runs (in the OS temp directory, or
// $NODE_COMPILE_CACHE): about 15 ms of every command's start.
enableCompileCache?.();

// Node 24's V8 can abort a process whose wasm code GC races a plugin worker's wrapper tier-up
// (nodejs/node#64500; see docs/ARCHITECTURE.md). Set before any plugin is compiled.
if (process.versions.node.startsWith('24.')) setFlagsFromString('--no-wasm-code-gc');
const { main } = await import('../dist/index.js');

process.exitCode = await main(process.argv.slice(2));

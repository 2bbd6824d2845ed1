#!/usr/bin/env node
// Serve this clone's packages from a local npm registry, for trying them as a user would.
import { main } from '../src/cli.js';

process.exitCode = await main(process.argv.slice(2));

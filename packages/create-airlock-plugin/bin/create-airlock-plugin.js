#!/usr/bin/env node
// A committed launcher, so package managers can link the bin before dist/ is built.
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2));

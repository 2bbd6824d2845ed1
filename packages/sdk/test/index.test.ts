import { expect, it } from 'vitest';
import * as sdk from '../src/index.js';

it('exports exactly the public runtime API', () => {
  expect(Object.keys(sdk).sort()).toEqual(['HostError', 'ProviderError', 'ToolError', 'config', 'credentials', 'defineProviderPlugin', 'defineTool', 'defineToolPlugin', 'env', 'fs', 'log', 'storage']);
});

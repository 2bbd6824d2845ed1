import { expect, it } from 'vitest';
import * as sdk from '../src/index.js';

it('exports exactly the public runtime API', () => {
  expect(Object.keys(sdk).sort()).toEqual(['AuthError', 'HostError', 'ProviderError', 'ToolError', 'config', 'credentials', 'defineAuthPlugin', 'defineContextPlugin', 'defineHookPlugin', 'definePromptPlugin', 'defineProviderPlugin', 'defineTool', 'defineToolPlugin', 'env', 'events', 'fs', 'log', 'progress', 'storage']);
});

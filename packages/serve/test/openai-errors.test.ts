import { describe, expect, it } from 'vitest';
import { AirlockError } from '@airlock/host';
import { fromHostError } from '../src/openai.js';

describe('fromHostError', () => {
  it('answers a hook plugin\'s refusal with 403, its reason and the host\'s code', async () => {
    const res = fromHostError(new AirlockError('HOOK_DENIED', 'hook plugin `policy` refused the chat with `openai` (before-chat): off-topic', { plugin: 'policy' }));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { type: 'permission_error', code: 'hook_denied', message: expect.stringContaining('off-topic') } });
  });

  it('answers a failed hook as the gateway\'s own failure', async () => {
    const res = fromHostError(new AirlockError('HOOK_FAILED', 'hook plugin `policy` failed in before-chat'));
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: { type: 'server_error', code: 'hook_failed' } });
  });
});

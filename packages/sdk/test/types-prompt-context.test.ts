// Type-level tests (checked by `tsc --noEmit`): the SDK's prompt-template and
// context types agree with the ones generated from the WIT contract, both ways.
/// <reference types="@airlock/wit/guest" />
import { describe, expectTypeOf, it } from 'vitest';
import type * as WitPrompt from 'airlock:plugin/prompt-template@0.2.0';
import type * as WitContext from 'airlock:plugin/context@0.2.0';
import type { ContextItem, ContextPlugin, ContextRequest, PromptMessage, PromptPlugin } from '../src/index.js';

describe('prompt-template types', () => {
  it('match the contract', () => {
    expectTypeOf<PromptMessage>().toEqualTypeOf<WitPrompt.PromptMessage>();
    expectTypeOf<ReturnType<PromptPlugin['exports']['listTemplates']>>().toEqualTypeOf<WitPrompt.TemplateInfo[]>();
    expectTypeOf<Parameters<PromptPlugin['exports']['render']>>().toEqualTypeOf<Parameters<typeof WitPrompt.render>>();
    expectTypeOf<Awaited<ReturnType<PromptPlugin['exports']['render']>>>().toEqualTypeOf<WitPrompt.PromptMessage[]>();
  });
});

describe('context types', () => {
  it('match the contract', () => {
    expectTypeOf<ContextRequest>().toEqualTypeOf<WitContext.ContextRequest>();
    expectTypeOf<ContextItem>().toEqualTypeOf<WitContext.ContextItem>();
    expectTypeOf<Parameters<ContextPlugin['exports']['retrieve']>>().toEqualTypeOf<Parameters<typeof WitContext.retrieve>>();
    expectTypeOf<Awaited<ReturnType<ContextPlugin['exports']['retrieve']>>>().toEqualTypeOf<WitContext.ContextItem[]>();
  });
});

/**
 * The `hooks` capability of hook plugins: the points in the host's work
 * (`before-tool-call`, `after-tool-call`, `before-chat`, `after-chat`) where
 * the plugin's hooks run. Each is shown as risky: a hook sees every tool call's
 * arguments and result, or every chat request and answer, and may change them.
 * The host checks at load that every point the plugin's `info` names is
 * declared and granted (see kinds/hook.ts).
 */
import { HOOK_POINTS, type HookPoint } from '../manifest.js';
import { withEntry, withoutEntries, type CapabilitySpec } from './spec.js';

const SEES: Record<HookPoint, string> = {
  'before-tool-call': 'see and change the arguments of every tool call, or refuse it',
  'after-tool-call': 'see and change the result of every tool call, or withhold it',
  'before-chat': 'see and change every chat request, or refuse it',
  'after-chat': 'see and change every chat answer, or withhold it',
};

export const hooksCapability: CapabilitySpec<'hooks'> = {
  name: 'hooks',
  form: `hooks <point> (one of ${HOOK_POINTS.join(', ')})`,
  items: (points) => points.map((point) => ({ capability: 'hooks', point })),
  covers: (granted, item) => granted?.includes(item.point) ?? false,
  add: (granted, item) => withEntry(granted, item.point),
  remove: (granted, item) => withoutEntries(granted, (point) => point === item.point),
  parse: (value) =>
    HOOK_POINTS.includes(value as HookPoint) ? { capability: 'hooks', point: value as HookPoint } : { problem: `\`${value}\` is not a hook point` },
  describe: (item) => `hooks ${item.point}`,
  show: (item) => ({ value: `${item.point}: ${SEES[item.point]}`, risky: true }),
};

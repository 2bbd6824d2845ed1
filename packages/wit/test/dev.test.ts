import { describe, expect, it } from 'vitest';
import { DEV_BUNDLE_INTERFACE, DEV_BUNDLE_WIT, devBundlePath, isDevBuild } from '../src/index.js';

describe('development builds', () => {
  it('put the bundle beside the component, named after it', () => {
    expect(devBundlePath('dist/plugin.wasm')).toBe('dist/plugin.dev.js');
    expect(devBundlePath('/abs/out/tool.wasm')).toBe('/abs/out/tool.dev.js');
    expect(devBundlePath('build/component')).toBe('build/component.dev.js');
  });

  it('are told by the dev interface among the imports, at any version', () => {
    expect(isDevBuild(['airlock:plugin/log@0.2.0', DEV_BUNDLE_INTERFACE])).toBe(true);
    expect(isDevBuild(['airlock:dev/bundle@9.0.0'])).toBe(true);
    expect(isDevBuild(['airlock:plugin/log@0.2.0', 'wasi:cli/environment@0.2.12', 'airlock:dev/other@0.1.0'])).toBe(false);
    expect(isDevBuild([])).toBe(false);
  });

  it('declare the interface they name', () => {
    const [pkg, version] = DEV_BUNDLE_INTERFACE.split('@');
    expect(DEV_BUNDLE_WIT).toContain(`package ${pkg!.slice(0, pkg!.indexOf('/'))}@${version};`);
    expect(DEV_BUNDLE_WIT).toMatch(new RegExp(`interface ${pkg!.slice(pkg!.indexOf('/') + 1)} \\{[^}]*source: func\\(\\) -> string;`));
  });
});

/**
 * Development builds (`airlock-plugin build --dev`, what `airlock-plugin dev`
 * runs on each change). A release build componentizes the plugin's bundle
 * into its own component: 10–35 s per change. A development build instead
 * writes two files: a prebuilt *engine* component, the same for every plugin
 * of a kind (and set of integrator interfaces), componentized once and
 * cached; and the plugin's bundle as a script beside it. The engine imports
 * one interface more than a release build, {@link DEV_BUNDLE_INTERFACE}, by
 * which it asks the host for that script, evaluates it on its first call
 * and forwards every export to it.
 *
 * The sandbox and the contract are the same: the bundle runs inside the
 * engine's guest, with the same imports, grants and limits. What differs:
 * the bundle's top level runs at the first call (a release build runs it at
 * build time and snapshots the result), so that call is slower; and the
 * bundle is read from a file next to the component rather than being part of
 * it, so a development build cannot be installed, packed or published.
 */

/** The interface a development build's engine imports to get the plugin's bundle. */
export const DEV_BUNDLE_INTERFACE = 'airlock:dev/bundle@0.1.0';

/** Its WIT: the package the build adds to the engine's world. */
export const DEV_BUNDLE_WIT = `package airlock:dev@0.1.0;

/// The plugin's JavaScript, for a development build's engine to evaluate.
interface bundle {
  /// The bundle's source: a CommonJS-style function body taking \`require\`, \`module\` and \`exports\`.
  source: func() -> string;
}
`;

/**
 * Where a development build puts the bundle of the component at
 * `component` (a path relative to the plugin directory, or absolute):
 * `dist/plugin.wasm` → `dist/plugin.dev.js`. Its source map is that path
 * plus `.map`.
 */
export function devBundlePath(component: string): string {
  return component.replace(/(\.wasm)?$/, '.dev.js');
}

/** Whether a component importing `imports` is a development build. */
export function isDevBuild(imports: readonly string[]): boolean {
  return imports.some((name) => name.split('@')[0] === DEV_BUNDLE_INTERFACE.split('@')[0]);
}
